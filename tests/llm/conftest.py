"""The real SmolLM2 for tests: converted once per session under a tmp home, served once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.llm.local_model import LocalChatModel, base_model_dir, ensure_base_model
from llm_twin.settings import Settings


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llm-home")


@pytest.fixture(scope="session")
def base_model(model_home: Path) -> Path:
    """The safetensors copy of the GGUF (first conversion ~16-20 s)."""
    return ensure_base_model(model_home)


@pytest.fixture(scope="session")
def smollm2(model_home: Path, base_model: Path) -> Iterator[LocalChatModel]:
    model = LocalChatModel(Settings(home=model_home), base_model)
    assert base_model == base_model_dir(model_home)
    yield model
