"""Supervised fine-tuning: TRL ``SFTTrainer`` + a PEFT LoRA adapter on instruction samples.

Conversational prompt-completion rows (:mod:`training.finetune.data`) with ``completion_only_loss``: the
loss covers the assistant answer only. ``python -m training.finetune.sft`` is the SageMaker training job
entry point (:mod:`training.finetune.entry`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from training.finetune.config import SftConfig
from training.finetune.data import resolve_dataset_dir, sft_datasets
from training.finetune.models import Device, trainer_arguments
from training.finetune.run import RunResult, execute


def build_sft_trainer(
    config: SftConfig,
    device: Device,
    tokenizer: Any,
    model: Any,
    peft_config: Any,
    progress: bool,
    callbacks: list[Any],
) -> tuple[Any, int]:
    from trl import SFTConfig, SFTTrainer

    train, test = sft_datasets(resolve_dataset_dir(Path(config.dataset_dir)))
    args = SFTConfig(
        **trainer_arguments(config, device, progress=progress),
        completion_only_loss=True,
        assistant_only_loss=False,
        packing=False,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=test,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    return trainer, len(train)


def train_sft(config: SftConfig, *, progress: bool | None = None) -> RunResult:
    """One SFT run: record, train, save the adapter, export and (optionally) publish the merged model."""
    return execute(config, build_sft_trainer, progress=progress)  # type: ignore[arg-type]


if __name__ == "__main__":
    from training.finetune.entry import main

    raise SystemExit(main("sft", sys.argv[1:]))
