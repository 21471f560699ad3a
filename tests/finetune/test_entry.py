"""``python -m training.finetune.sft|dpo`` as a SageMaker training job, on a fake /opt/ml layout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from llm_twin.errors import InvalidInputError
from tests.finetune.fixtures import TINY_LORA
from training.finetune.entry import job_values, resolve_model_channel, run_job

REPO = Path(__file__).parents[2]


def _opt_ml(root: Path, dataset: Path, hyperparameters: dict[str, str], model: Path | None = None) -> Path:
    """The folders SageMaker mounts: input/config/hyperparameters.json, input/data/<channel>, model,
    output/data, checkpoints (present when the job has a checkpoint config)."""
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    shutil.copytree(dataset, root / "input" / "data" / "train")
    if model is not None:
        shutil.copytree(model, root / "input" / "data" / "model")
    for folder in ("model", "output/data", "checkpoints"):
        (root / folder).mkdir(parents=True)
    return root


def _environ(root: Path, job: str, channels: tuple[str, ...] = ("train",)) -> dict[str, str]:
    env = {
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_INPUT_CONFIG_DIR": str(root / "input" / "config"),
        "TRAINING_JOB_NAME": job,
    }
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = str(root / "input" / "data" / channel)
    return env


def _hyperparameters(**extra: str) -> dict[str, str]:
    """As the SDK writes them: strings only, LoRA flattened."""
    values = {
        "learning_rate": "1e-2",
        "batch_size": "2",
        "max_length": "64",
        "lr_scheduler": "constant",
        "max_steps": "5",
        **{f"lora_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in TINY_LORA.items()},
        **extra,
    }
    return values


def test_sft_then_dpo_jobs(
    tiny_model: Path, datasets_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = datasets_root / "instruct" / "0123456789abcdef"
    sft_root = _opt_ml(tmp_path / "sft", dataset, _hyperparameters(base_model=str(tiny_model)))
    code = run_job("sft", ["--max_steps", "2"], _environ(sft_root, "llm-twin-sft-1"), sft_root)
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (
        result["run_id"] == "llm-twin-sft-1" and result["steps"] == 2
    )  # CLI args win over hyperparameters.json
    model_dir = sft_root / "model"
    assert (model_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert (model_dir / "merged" / "model.safetensors").is_file()
    record = sft_root / "output" / "data"
    assert {"config.json", "environment.json", "metrics.jsonl", "result.json"} <= {
        p.name for p in record.iterdir()
    }
    config = json.loads((record / "config.json").read_text())
    assert config["dataset_dir"] == str(sft_root / "input" / "data" / "train")
    assert config["checkpoint_dir"] == str(sft_root / "checkpoints")

    # DPO: the SFT job's model output is the model channel; its merged/ folder is the base.
    dpo_dataset = datasets_root / "preference" / "0123456789abcdef"
    dpo_root = _opt_ml(tmp_path / "dpo", dpo_dataset, _hyperparameters(beta="0.1", max_steps="2"), model_dir)
    code = run_job("dpo", [], _environ(dpo_root, "llm-twin-dpo-1", ("train", "model")), dpo_root)
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["base_model"] == str(dpo_root / "input" / "data" / "model" / "merged")
    assert (dpo_root / "model" / "merged" / "config.json").is_file()


def test_bad_hyperparameters_fail_the_job_clearly(datasets_root: Path, tmp_path: Path) -> None:
    dataset = datasets_root / "instruct" / "0123456789abcdef"
    root = _opt_ml(tmp_path, dataset, _hyperparameters(learning_rate="fast"))
    assert run_job("sft", [], _environ(root, "job-bad"), root) == 2
    failure = (root / "output" / "failure").read_text()
    assert "learning_rate: Input should be a valid number" in failure
    assert "base_model: Field required" in failure  # SFT without a model channel needs a base_model


def test_entry_point_module_exit_code(datasets_root: Path, tmp_path: Path) -> None:
    """``python -m training.finetune.dpo`` in a job without a model channel: exit 2, reason in the log."""
    dataset = datasets_root / "preference" / "0123456789abcdef"
    root = _opt_ml(tmp_path, dataset, _hyperparameters(beta="0.1"))
    env = {**os.environ, **_environ(root, "job-no-model"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "training.finetune.dpo", "--max_steps", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "base_model: Field required" in done.stderr


def test_job_values_defaults_from_opt_ml(tmp_path: Path) -> None:
    """Without SM_* variables the standard /opt/ml folders are used (here under a fake root)."""
    (tmp_path / "input" / "data" / "train").mkdir(parents=True)
    values = job_values("sft", ["--seed=7"], {}, tmp_path)
    assert values["dataset_dir"] == str(tmp_path / "input" / "data" / "train")
    assert values["model_dir"] == str(tmp_path / "model")
    assert values["output_dir"] == str(tmp_path / "output" / "data")
    assert "checkpoint_dir" not in values and "run_id" not in values and values["seed"] == "7"


def test_model_channel_forms(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    assert resolve_model_channel(plain) == plain
    job_output = tmp_path / "job"
    (job_output / "merged").mkdir(parents=True)
    (job_output / "merged" / "config.json").write_text("{}")
    assert resolve_model_channel(job_output) == job_output / "merged"
    packed = tmp_path / "packed"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as tar:
        tar.add(job_output / "merged", arcname="merged")
    found = resolve_model_channel(packed, scratch=tmp_path)
    assert found.name == "merged" and (found / "config.json").is_file()
    with pytest.raises(InvalidInputError, match="holds no model"):
        resolve_model_channel(tmp_path / "plain" / "..")
