"""The container-side bootstrap: SM_* variables from /opt/ml, the HF token from Secrets Manager, the run."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from training.sagemaker import bootstrap


@pytest.fixture
def opt_ml(tmp_path: Path) -> Path:
    """A training job's /opt/ml/input/config as SageMaker writes it."""
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"learning_rate": "0.0002", "lora_r": "16"}))
    (config / "inputdataconfig.json").write_text(
        json.dumps({"train": {"TrainingInputMode": "File"}, "model": {}, "code": {}})
    )
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    return tmp_path


def test_training_environment_from_the_job_config(opt_ml: Path) -> None:
    env = bootstrap.training_environment(opt_ml)
    assert env["SM_MODEL_DIR"] == str(opt_ml / "model")
    assert env["SM_OUTPUT_DATA_DIR"] == str(opt_ml / "output" / "data")
    assert env["SM_CHANNEL_TRAIN"] == str(opt_ml / "input" / "data" / "train")
    assert env["SM_CHANNEL_MODEL"] == str(opt_ml / "input" / "data" / "model")
    assert json.loads(env["SM_CHANNELS"]) == ["code", "model", "train"]
    assert json.loads(env["SM_HPS"]) == {"learning_rate": "0.0002", "lora_r": "16"}
    assert env["SM_HP_LORA_R"] == "16"
    assert env["SM_CURRENT_HOST"] == "algo-1"


def test_outside_a_training_job_nothing_is_derived(tmp_path: Path) -> None:
    assert bootstrap.training_environment(tmp_path) == {}


def test_values_already_set_win(opt_ml: Path) -> None:
    env = {"SM_MODEL_DIR": "/elsewhere", "LLM_TWIN_HF_TOKEN_SECRET_NAME": "none"}
    added = bootstrap.prepare_environment(env, root=opt_ml)
    assert env["SM_MODEL_DIR"] == "/elsewhere"
    assert "SM_MODEL_DIR" not in added and "SM_CHANNEL_TRAIN" in added
    assert "HF_TOKEN" not in env  # "none": no secret


@pytest.fixture
def secrets() -> Iterator[Any]:
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.mark.parametrize("secret", ["hf_abc123", '{"HF_TOKEN": "hf_abc123"}', '{"token": "hf_abc123"}'])
def test_hf_token_is_read_from_the_secret(tmp_path: Path, secrets: Any, secret: str) -> None:
    secrets.create_secret(Name="llm-twin/hf-token", SecretString=secret)
    env = {"LLM_TWIN_HF_TOKEN_SECRET_NAME": "llm-twin/hf-token"}
    added = bootstrap.prepare_environment(env, root=tmp_path, secrets_client=secrets)
    assert env["HF_TOKEN"] == "hf_abc123"
    assert added == ["HF_TOKEN"]


def test_an_existing_token_is_kept(tmp_path: Path) -> None:
    env = {"LLM_TWIN_HF_TOKEN_SECRET_NAME": "llm-twin/hf-token", "HF_TOKEN": "hf_given"}
    bootstrap.prepare_environment(env, root=tmp_path, secrets_client=object())  # never called
    assert env["HF_TOKEN"] == "hf_given"


@pytest.mark.parametrize("secret", ["", '{"other": "x"}'])
def test_an_unusable_secret_is_an_error(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        bootstrap.token_from_secret(secret)


def test_main_runs_the_module_with_its_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "fakejob"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "entry.py").write_text(
        "import sys\nprint('ran', sys.argv[1:])\nraise SystemExit(3 if '--fail' in sys.argv else 0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(bootstrap, "OPT_ML", tmp_path / "no-opt-ml")
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    assert bootstrap.main(["fakejob.entry", "--kind", "all"]) == 0
    assert "ran ['--kind', 'all']" in capsys.readouterr().out
    assert bootstrap.main(["fakejob.entry", "--fail"]) == 3
    assert bootstrap.main([]) == 2
