"""``llm-twin train sft|dpo`` on the tiny model, its defaults and errors, and ``--sagemaker``."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from llm_twin.cli.main import main
from llm_twin.llm.local_model import base_model_dir


@pytest.fixture
def home(tmp_path: Path, base_model: Path, datasets_root: Path) -> Path:
    """A local home whose SmolLM2 copy is the session's (no second GGUF conversion) and whose datasets are
    the fixture datasets at their default place."""
    home = tmp_path / "home"
    base_model_dir(home).parent.mkdir(parents=True)
    base_model_dir(home).symlink_to(base_model, target_is_directory=True)
    shutil.copytree(datasets_root, home / "datasets")
    return home


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tiny_sft_then_dpo(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--home", str(home), "train", "sft", "--tiny", "--max-steps", "2", "--json")
    assert code == 0, err
    sft = json.loads(out)  # stdout holds only the result; training chatter went to stderr
    assert sft["kind"] == "sft" and sft["steps"] == 2
    assert sft["base_model"] == str(home / "models" / "tiny-smollm2")
    assert sft["dataset_dir"] == str(home / "datasets" / "instruct" / "0123456789abcdef")
    assert Path(sft["output_dir"]) == home / "training" / "runs" / sft["run_id"]
    assert sft["published_dir"] is None  # a tiny run is noise: never served
    assert not (home / "models" / "twin").exists()

    code, out, err = _run(capsys, "--home", str(home), "train", "dpo", "--tiny", "--max-steps", "2")
    assert code == 0, err
    assert out.startswith("dpo run dpo-") and "2 steps on 8 rows, loss 0.6931 →" in out
    dpo_run = next((home / "training" / "runs").glob("dpo-*"))
    config = json.loads((dpo_run / "config.json").read_text())
    assert config["base_model"] == sft["merged_dir"]  # the newest tiny SFT run

    # Without --tiny, DPO looks for a full SFT run: there is none.
    code, _, err = _run(capsys, "--home", str(home), "train", "dpo")
    assert code == 2 and "no finished SFT run" in err and "llm-twin train sft" in err


def test_config_file_overrides_preset(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overrides = tmp_path / "hp.json"
    overrides.write_text(json.dumps({"lora": {"r": 4}, "learning_rate": 5e-3, "max_steps": 1}))
    code, out, err = _run(
        capsys, "--home", str(home), "train", "sft", "--tiny", "--config", str(overrides), "--json"
    )
    assert code == 0, err
    config = json.loads((Path(json.loads(out)["output_dir"]) / "config.json").read_text())
    assert config["lora"]["r"] == 4 and config["lora"]["alpha"] == 16 and config["learning_rate"] == 5e-3


def test_errors_exit_2(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--home", str(tmp_path / "empty"), "train", "sft", "--tiny")
    assert code == 2 and "no instruct dataset" in err and "llm-twin dataset build --kind instruct" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"batch_size": 0}))
    code, _, err = _run(capsys, "--home", str(home), "train", "sft", "--tiny", "--config", str(bad))
    assert code == 2 and "batch_size: Input should be greater than or equal to 1" in err
    code, _, err = _run(capsys, "--home", str(home), "train", "sft", "--tiny", "--sagemaker")
    assert code == 2 and "cannot be combined" in err


def test_sagemaker_launch(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[str, Any, Any]] = []

    def launch_training(kind: str, config: Any, settings: Any) -> str:
        calls.append((kind, config, settings))
        return "llm-twin-sft-20260101-abc"

    fake = types.ModuleType("training.sagemaker.launcher")
    fake.launch_training = launch_training  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "training.sagemaker", types.ModuleType("training.sagemaker"))
    monkeypatch.setitem(sys.modules, "training.sagemaker.launcher", fake)
    code, out, err = _run(
        capsys,
        "--home",
        str(home),
        "train",
        "sft",
        "--sagemaker",
        "--dataset",
        "s3://b/datasets/instruct/v1/",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["job_name"] == "llm-twin-sft-20260101-abc"
    kind, config, settings = calls[0]
    assert kind == "sft" and settings.home == home
    assert config.dataset_dir == "s3://b/datasets/instruct/v1/"
    assert config.base_model == "Qwen/Qwen2.5-7B-Instruct" and config.quantization == "qlora-4bit"
    assert config.run_id is None  # the job name becomes the run id
    hp = config.to_hyperparameters()
    assert hp["base_model"] == "Qwen/Qwen2.5-7B-Instruct" and "dataset_dir" not in hp

    code, _, err = _run(capsys, "--home", str(home), "train", "dpo", "--sagemaker")
    assert code == 2 and "dpo --sagemaker needs --base" in err
    code, out, _ = _run(
        capsys, "--home", str(home), "train", "dpo", "--sagemaker", "--base", "s3://b/sft/output/model/"
    )
    assert code == 0 and "launched SageMaker training job" in out
    assert (
        calls[-1][1].base_model == "s3://b/sft/output/model/"
        and "base_model" not in calls[-1][1].to_hyperparameters()
    )
