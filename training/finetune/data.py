"""Dataset rows to TRL datasets, in conversational form rendered by the project's one chat template.

- SFT: ``{"prompt": [system?, user], "completion": [assistant]}`` — TRL's conversational
  prompt-completion format, so ``completion_only_loss`` masks every prompt token (label -100) and the loss
  covers the answer and its ``<|im_end|>``. (``assistant_only_loss`` would need ``{% generation %}``
  markers, which the SmolLM2 template does not have.)
- DPO: ``{"prompt": [system?, user], "chosen": [assistant], "rejected": [assistant]}``.

The rows are read straight from the dataset contract (``training/datasets/schema.py``): every JSONL line
is validated by ``InstructionSample`` / ``PreferenceSample``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from llm_twin.errors import InvalidInputError
from llm_twin.prompts.chat_template import render
from training.datasets.schema import LATEST, InstructionSample, PreferenceSample, Split, split_file

if TYPE_CHECKING:
    from datasets import Dataset

Message = dict[str, str]
Row = TypeVar("Row", bound=BaseModel)


class DatasetError(InvalidInputError):
    """A dataset folder is missing, empty or holds rows that break the schema."""


def resolve_dataset_dir(path: Path) -> Path:
    """A version folder as is; a ``<root>/<kind>`` folder through its ``LATEST`` file."""
    if (path / split_file("train")).is_file():
        return path
    latest = path / LATEST
    if latest.is_file():
        version = latest.read_text(encoding="utf-8").strip()
        if version and (path / version / split_file("train")).is_file():
            return path / version
        raise DatasetError(f"{latest} names {version!r}, which has no {split_file('train')}")
    raise DatasetError(
        f"{path} is not a dataset version folder (no {split_file('train')}) nor holds {LATEST}"
    )


def read_rows(dataset_dir: Path, split: Split, model: type[Row], *, required: bool = True) -> list[Row]:
    """Every row of ``<dataset_dir>/<split>.jsonl`` validated by ``model``; a bad line names its number."""
    path = dataset_dir / split_file(split)
    if not path.is_file():
        if required:
            raise DatasetError(f"{path} not found")
        return []
    rows: list[Row] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(model.model_validate_json(line))
            except ValidationError as exc:
                raise DatasetError(f"{path}:{number}: not a {model.__name__}: {exc}") from None
    if required and not rows:
        raise DatasetError(f"{path} holds no rows")
    return rows


def _prompt(system: str | None, user: str) -> list[Message]:
    messages = [{"role": "system", "content": system}] if system else []
    return [*messages, {"role": "user", "content": user}]


def sft_row(sample: InstructionSample) -> dict[str, list[Message]]:
    return {
        "prompt": _prompt(sample.system, sample.instruction),
        "completion": [{"role": "assistant", "content": sample.answer}],
    }


def dpo_row(sample: PreferenceSample) -> dict[str, list[Message]]:
    return {
        "prompt": _prompt(sample.system, sample.prompt),
        "chosen": [{"role": "assistant", "content": sample.chosen}],
        "rejected": [{"role": "assistant", "content": sample.rejected}],
    }


def training_text(row: dict[str, Sequence[Message]], completion_key: str = "completion") -> str:
    """The exact text a row trains on (what TRL renders with the tokenizer's template)."""
    return render([*row["prompt"], *row[completion_key]], add_generation_prompt=False)


def serving_prompt(row: dict[str, Sequence[Message]]) -> str:
    """The prompt the servers build for the same conversation (generation prompt appended)."""
    return render(row["prompt"], add_generation_prompt=True)


def _to_dataset(rows: Iterable[dict[str, Any]]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_list(list(rows))


def sft_datasets(dataset_dir: Path) -> tuple[Dataset, Dataset | None]:
    """(train, test or None) of an instruction dataset version."""
    train = [sft_row(s) for s in read_rows(dataset_dir, "train", InstructionSample)]
    test = [sft_row(s) for s in read_rows(dataset_dir, "test", InstructionSample, required=False)]
    return _to_dataset(train), _to_dataset(test) if test else None


def dpo_datasets(dataset_dir: Path) -> tuple[Dataset, Dataset | None]:
    """(train, test or None) of a preference dataset version."""
    train = [dpo_row(s) for s in read_rows(dataset_dir, "train", PreferenceSample)]
    test = [dpo_row(s) for s in read_rows(dataset_dir, "test", PreferenceSample, required=False)]
    return _to_dataset(train), _to_dataset(test) if test else None
