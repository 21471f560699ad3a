"""Which local model is served (no model is loaded here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llm_twin.errors import LlmError
from llm_twin.llm.local_model import LocalChatModel, get_local_model, gguf_path, resolve_model_dir
from llm_twin.settings import Settings


def fake_model(folder: Path, mtime: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    os.utime(folder, (mtime, mtime))
    return folder


def test_base_model_when_nothing_fine_tuned(tmp_path: Path) -> None:
    assert resolve_model_dir(Settings(home=tmp_path)) is None
    (tmp_path / "models" / "twin" / "incomplete").mkdir(parents=True)
    assert resolve_model_dir(Settings(home=tmp_path)) is None


def test_newest_twin_wins(tmp_path: Path) -> None:
    fake_model(tmp_path / "models" / "twin" / "sft-1", 1_000)
    newest = fake_model(tmp_path / "models" / "twin" / "dpo-2", 2_000)
    assert resolve_model_dir(Settings(home=tmp_path)) == newest


def test_setting_overrides(tmp_path: Path) -> None:
    fake_model(tmp_path / "models" / "twin" / "dpo-2", 2_000)
    chosen = fake_model(tmp_path / "elsewhere", 1_000)
    assert resolve_model_dir(Settings(home=tmp_path, local_model_dir=chosen)) == chosen
    with pytest.raises(LlmError):
        resolve_model_dir(Settings(home=tmp_path, local_model_dir=tmp_path / "missing"))


def test_one_lazy_instance_per_process(tmp_path: Path) -> None:
    first = get_local_model(Settings(home=tmp_path))
    assert isinstance(first, LocalChatModel) and not first.loaded
    assert get_local_model(Settings(home=tmp_path)) is first


def test_gguf_is_found() -> None:
    assert gguf_path().stat().st_size > 50_000_000


def test_imports_load_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, inference.local_server, llm_twin.llm.lmi, llm_twin.llm.bedrock;"
        "import llm_twin.llm.local_model, llm_twin.prompts.chat_template;"
        "heavy = {'torch', 'transformers', 'boto3', 'langchain_aws', 'requests'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2], timeout=60)
