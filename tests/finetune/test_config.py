"""Config objects: required fields, clear validation errors, one parser for JSON and SageMaker strings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_twin.errors import InvalidInputError
from training.finetune.config import (
    ConfigError,
    DpoConfig,
    LoraSettings,
    SftConfig,
    load_config_file,
    parse_cli_pairs,
    parse_config,
)
from training.finetune.models import Device, check_quantization
from training.finetune.presets import PROFILES, preset

LORA = {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear"}
BASE = {
    "base_model": "/models/smollm2",
    "dataset_dir": "/data/instruct/abc",
    "output_dir": "/runs/x",
    "max_steps": 3,
    "learning_rate": 2e-4,
    "batch_size": 4,
    "max_length": 256,
    "lora": LORA,
}


def test_minimal_sft_config() -> None:
    config = parse_config("sft", BASE)
    assert isinstance(config, SftConfig)
    assert config.kind == "sft"
    assert config.lora == LoraSettings(**LORA)
    assert config.effective_model_dir == Path("/runs/x")
    assert config.effective_checkpoint_dir == Path("/runs/x/checkpoints")
    assert config.quantization == "none"


@pytest.mark.parametrize("missing", ["base_model", "dataset_dir", "output_dir", "learning_rate", "lora"])
def test_required_fields_have_no_default(missing: str) -> None:
    values = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ConfigError) as err:
        parse_config("sft", values)
    assert f"{missing}: Field required" in str(err.value)


def test_dpo_needs_beta() -> None:
    with pytest.raises(ConfigError, match=r"beta: Field required"):
        parse_config("dpo", BASE)
    assert isinstance(parse_config("dpo", {**BASE, "beta": 0.1}), DpoConfig)


def test_steps_or_epochs_required() -> None:
    values = {k: v for k, v in BASE.items() if k != "max_steps"}
    with pytest.raises(ConfigError, match="set max_steps or epochs"):
        parse_config("sft", values)
    assert parse_config("sft", {**values, "epochs": 2}).epochs == 2


def test_errors_name_every_bad_field() -> None:
    bad = {**BASE, "learning_rate": -1, "batch_size": 0, "quantization": "8bit", "lora": {**LORA, "r": 0}}
    with pytest.raises(ConfigError) as err:
        parse_config("sft", bad)
    message = str(err.value)
    assert message.startswith("invalid sft config:")
    for field in ("learning_rate", "batch_size", "quantization", "lora.r"):
        assert f"  {field}: " in message
    assert "(got -1)" in message
    assert isinstance(err.value, InvalidInputError)  # the CLI reports it and exits 2


def test_unknown_fields_rejected() -> None:
    with pytest.raises(ConfigError, match="lerning_rate: Extra inputs are not permitted"):
        parse_config("sft", {**BASE, "lerning_rate": 1e-4})


def test_wrong_kind_rejected() -> None:
    with pytest.raises(ConfigError, match="kind"):
        parse_config("sft", {**BASE, "kind": "dpo"})
    with pytest.raises(ConfigError, match="unknown training kind"):
        parse_config("ppo", BASE)


def test_sagemaker_hyperparameters_all_strings() -> None:
    """What hyperparameters.json holds: every value a string, LoRA flattened, SDK keys mixed in."""
    hyperparameters = {
        "base_model": "Qwen/Qwen2.5-7B-Instruct",
        "dataset_dir": "/opt/ml/input/data/train",
        "output_dir": "/opt/ml/output/data",
        "epochs": "3",
        "learning_rate": "2e-4",
        "batch_size": "4",
        "grad_accumulation": "4",
        "max_length": "2048",
        "save_steps": "50",
        "quantization": "qlora-4bit",
        "lora_r": "16",
        "lora_alpha": "32",
        "lora_dropout": "0.05",
        "lora_target_modules": "q_proj,k_proj,v_proj,o_proj",
        "run_id": '"20260101"',  # a JSON-quoted string stays a string
        "sagemaker_program": "sft.py",
    }
    config = parse_config("sft", hyperparameters)
    assert config.epochs == 3.0 and config.learning_rate == 2e-4 and config.grad_accumulation == 4
    assert config.quantization == "qlora-4bit" and config.save_steps == 50
    assert config.lora == LoraSettings(
        r=16, alpha=32, dropout=0.05, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    assert config.run_id == "20260101"


def test_hyperparameters_round_trip() -> None:
    config = parse_config(
        "dpo",
        {
            **BASE,
            "base_model": "Qwen/Qwen2.5-7B-Instruct",
            "beta": 0.2,
            "lora": {**LORA, "target_modules": ["q_proj", "v_proj"]},
        },
    )
    hp = config.to_hyperparameters()
    assert all(isinstance(v, str) for v in hp.values())
    assert not {"dataset_dir", "output_dir", "model_dir", "checkpoint_dir", "publish_dir"} & hp.keys()
    assert hp["lora_target_modules"] == '["q_proj", "v_proj"]'
    back = parse_config("dpo", {**hp, "dataset_dir": BASE["dataset_dir"], "output_dir": BASE["output_dir"]})
    assert back == config


def test_s3_or_local_base_is_a_channel_not_a_hyperparameter() -> None:
    for base in ("s3://bucket/sft/output/model/", "/home/me/.llm-twin/training/runs/sft-1/merged"):
        assert "base_model" not in parse_config("sft", {**BASE, "base_model": base}).to_hyperparameters()


def test_lora_target_modules_forms() -> None:
    assert LoraSettings(**{**LORA, "target_modules": '["q_proj"]'}).target_modules == ["q_proj"]
    assert LoraSettings(**{**LORA, "target_modules": "q_proj"}).target_modules == "q_proj"
    for bad in ("", "q proj", [], ["q_proj", " "]):
        with pytest.raises(ValueError):
            LoraSettings(**{**LORA, "target_modules": bad})


def test_json_file_and_run_config_read_back(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    config = parse_config("sft", {**BASE, "run_id": "sft-20260101T000000Z-abcdef12"})
    path.write_text(json.dumps(config.model_dump(mode="json")))
    assert load_config_file("sft", path) == config
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a JSON object"):
        load_config_file("sft", path)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config_file("sft", tmp_path / "missing.json")


def test_run_id_must_be_safe() -> None:
    with pytest.raises(ConfigError, match="run_id"):
        parse_config("sft", {**BASE, "run_id": "../escape"})


def test_cli_pairs() -> None:
    assert parse_cli_pairs(["--max_steps", "3", "--learning-rate=1e-3"]) == {
        "max_steps": "3",
        "learning_rate": "1e-3",
    }
    with pytest.raises(ConfigError, match="needs a value"):
        parse_cli_pairs(["--max_steps"])
    with pytest.raises(ConfigError, match="unexpected argument"):
        parse_cli_pairs(["max_steps", "3"])


def test_qlora_needs_cuda_and_bitsandbytes() -> None:
    config = parse_config("sft", {**BASE, "quantization": "qlora-4bit"})
    with pytest.raises(InvalidInputError) as err:
        check_quantization(config, Device("cpu", "cpu", False))
    assert "a CUDA GPU" in str(err.value) and 'quantization="none"' in str(err.value)
    check_quantization(parse_config("sft", BASE), Device("cpu", "cpu", False))  # full precision: fine


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("kind", ["sft", "dpo"])
def test_presets_validate(kind: str, profile: str) -> None:
    values = {**preset(kind, profile), "dataset_dir": "/d", "output_dir": "/o"}  # type: ignore[arg-type]
    values.setdefault("base_model", "/m")
    config = parse_config(kind, values)
    assert config.kind == kind
