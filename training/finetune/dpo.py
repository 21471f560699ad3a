"""Direct preference optimisation: TRL ``DPOTrainer`` + a new LoRA adapter on top of the merged SFT model.

``ref_model=None`` with a ``peft_config``: the reference policy is the same base with the adapter
disabled, so only one copy of the weights is in memory. ``python -m training.finetune.dpo`` is the
SageMaker training job entry point (:mod:`training.finetune.entry`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from training.finetune.config import DpoConfig
from training.finetune.data import dpo_datasets, resolve_dataset_dir
from training.finetune.models import Device, trainer_arguments
from training.finetune.run import RunResult, execute


def build_dpo_trainer(
    config: DpoConfig,
    device: Device,
    tokenizer: Any,
    model: Any,
    peft_config: Any,
    progress: bool,
    callbacks: list[Any],
) -> tuple[Any, int]:
    from trl import DPOConfig, DPOTrainer

    train, test = dpo_datasets(resolve_dataset_dir(Path(config.dataset_dir)))
    args = DPOConfig(**trainer_arguments(config, device, progress=progress), beta=config.beta)
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=train,
        eval_dataset=test,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    return trainer, len(train)


def train_dpo(config: DpoConfig, *, progress: bool | None = None) -> RunResult:
    """One DPO run on top of ``config.base_model`` (the merged SFT model)."""
    return execute(config, build_dpo_trainer, progress=progress)  # type: ignore[arg-type]


if __name__ == "__main__":
    from training.finetune.entry import main

    raise SystemExit(main("dpo", sys.argv[1:]))
