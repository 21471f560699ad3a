"""Fine-tuning fixtures: the tiny model, small datasets, and one SFT and one DPO run shared per session.

Every run trains the tiny random Llama (SmolLM2 tokenizer) for a few steps: the whole path — template,
masks, LoRA, checkpoints, merge, transformers-4.x export, publish — in seconds per step on CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.finetune.fixtures import (
    dpo_config,
    instruction_samples,
    preference_samples,
    sft_config,
    write_dataset,
)
from training.finetune.run import RunResult


@pytest.fixture(scope="session")
def tiny_model(base_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.finetune.tiny import build_tiny_model

    return build_tiny_model(base_model, tmp_path_factory.mktemp("tiny") / "tiny-smollm2")


@pytest.fixture(scope="session")
def datasets_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("datasets")
    write_dataset(
        root, "instruct", instruction_samples(8), instruction_samples(2, system="You write like Maya.")
    )
    write_dataset(root, "preference", preference_samples(8), preference_samples(2))
    return root


@pytest.fixture(scope="session")
def sft_run(tiny_model: Path, datasets_root: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    from training.finetune.run import new_run_id
    from training.finetune.sft import train_sft

    home = tmp_path_factory.mktemp("sft-home")
    run_id = new_run_id("sft")
    config = sft_config(
        tiny_model,
        datasets_root,
        home / "training" / "runs" / run_id,
        run_id=run_id,
        publish_dir=str(home / "models" / "twin" / run_id),
    )
    return train_sft(config, progress=False)


@pytest.fixture(scope="session")
def dpo_run(sft_run: RunResult, datasets_root: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    from training.finetune.dpo import train_dpo

    out = tmp_path_factory.mktemp("dpo-home") / "runs" / "dpo"
    return train_dpo(dpo_config(sft_run.merged_dir, datasets_root, out), progress=False)
