"""Named hyperparameter sets the CLI starts from (every value visible in the run's config.json).

- ``local``: SmolLM2-135M-Instruct on a laptop CPU, one epoch, in minutes (docs/training.md has the
  measured s/step);
- ``tiny``: the tiny random model (:mod:`training.finetune.tiny`), a few steps in seconds — a smoke test
  of the whole path, its output is noise;
- ``sagemaker``: a 7B ChatML model with QLoRA on one 24 GB GPU (ml.g5.2xlarge class), checkpointing
  for spot. The base must tokenize ``<|im_start|>``/``<|im_end|>`` as single tokens (the project's one
  chat template is ChatML): SmolLM2 and Qwen2.5 do; Llama 3.x does not.

A preset holds no locations: the CLI or the training job adds base model, dataset and output folders.
"""

from __future__ import annotations

from typing import Any, Literal

from training.finetune.config import Kind

Profile = Literal["local", "tiny", "sagemaker"]
PROFILES: tuple[Profile, ...] = ("local", "tiny", "sagemaker")

SAGEMAKER_BASE_MODEL = "Qwen/Qwen2.5-7B-Instruct"

_LORA_SMALL = {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear"}
_LORA_LARGE = {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"}

_PRESETS: dict[tuple[Kind, Profile], dict[str, Any]] = {
    ("sft", "local"): {
        "epochs": 1,
        "learning_rate": 2e-4,
        "batch_size": 4,
        "max_length": 256,
        "warmup_steps": 2,
        "lr_scheduler": "linear",
        "lora": _LORA_SMALL,
    },
    ("dpo", "local"): {
        "epochs": 1,
        "learning_rate": 5e-5,
        "batch_size": 4,
        "max_length": 256,
        "beta": 0.1,
        "warmup_steps": 2,
        "lr_scheduler": "linear",
        "lora": _LORA_SMALL,
    },
    ("sft", "tiny"): {
        "max_steps": 6,
        "learning_rate": 1e-2,
        "batch_size": 2,
        "max_length": 64,
        "lr_scheduler": "constant",
        "lora": {**_LORA_SMALL, "dropout": 0.0},
    },
    ("dpo", "tiny"): {
        "max_steps": 4,
        "learning_rate": 1e-2,
        "batch_size": 2,
        "max_length": 64,
        "beta": 0.1,
        "lr_scheduler": "constant",
        "lora": {**_LORA_SMALL, "dropout": 0.0},
    },
    ("sft", "sagemaker"): {
        "base_model": SAGEMAKER_BASE_MODEL,
        "epochs": 3,
        "learning_rate": 2e-4,
        "batch_size": 4,
        "grad_accumulation": 4,
        "max_length": 2048,
        "warmup_steps": 10,
        "lr_scheduler": "cosine",
        "save_steps": 50,
        "quantization": "qlora-4bit",
        "lora": _LORA_LARGE,
    },
    ("dpo", "sagemaker"): {
        "epochs": 1,
        "learning_rate": 2e-5,
        "batch_size": 2,
        "grad_accumulation": 8,
        "max_length": 2048,
        "beta": 0.1,
        "warmup_steps": 10,
        "lr_scheduler": "cosine",
        "save_steps": 50,
        "quantization": "qlora-4bit",
        "lora": _LORA_LARGE,
    },
}


def preset(kind: Kind, profile: Profile) -> dict[str, Any]:
    """A copy of the hyperparameters of ``profile`` for ``kind`` (``parse_config`` input)."""
    values = dict(_PRESETS[(kind, profile)])
    values["lora"] = dict(values["lora"])
    return values
