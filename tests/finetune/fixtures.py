"""Small schema-valid datasets written the way training/datasets writes them (train/test JSONL + LATEST)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from training.datasets.schema import LATEST, InstructionSample, PreferenceSample, Provenance, split_file
from training.finetune.config import DpoConfig, SftConfig, parse_config

TOPICS = [
    ("serverless cold starts", "Keep the package small and initialise clients lazily."),
    ("vector search filters", "Filter on author before the k-NN search, never after it."),
    ("idempotent handlers", "Key every write by content hash so a retry changes nothing."),
    ("DynamoDB streams", "Bisect failing batches and send poison records to a queue."),
    ("LoRA adapters", "Train a small low-rank update and merge it for serving."),
    ("chat templates", "Use one template from the dataset to the serving prompt."),
    ("spot training", "Checkpoint often and resume from the newest checkpoint."),
    ("cost control", "Scale the endpoint to zero outside working hours."),
]


def _provenance(i: int) -> Provenance:
    return Provenance(
        document_id=f"doc-{i % 4}",
        author_id="author-1",
        author_name="Maya Lindqvist",
        platform="blog",
        category="article",
        link=f"https://example.com/posts/{i % 4}",
        title=f"Post {i % 4}",
        extract_index=i // 4,
    )


def _sha(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def instruction_samples(n: int, *, system: str | None = None) -> list[InstructionSample]:
    rows = []
    for i in range(n):
        topic, answer = TOPICS[i % len(TOPICS)]
        instruction = f"What do you advise about {topic}?"
        rows.append(
            InstructionSample(
                id=_sha(instruction, answer, str(i)),
                instruction=instruction,
                answer=answer,
                answer_source="author",
                system=system,
                provenance=_provenance(i),
            )
        )
    return rows


def preference_samples(n: int) -> list[PreferenceSample]:
    rows = []
    for i in range(n):
        topic, chosen = TOPICS[i % len(TOPICS)]
        prompt = f"Write a sentence about {topic}."
        rows.append(
            PreferenceSample(
                id=_sha(prompt, chosen, str(i)),
                prompt=prompt,
                chosen=chosen,
                rejected=f"{topic.capitalize()} are a fascinating and complex topic with many aspects.",
                system=None,
                provenance=_provenance(i),
            )
        )
    return rows


def write_dataset(root: Path, kind: str, train: list, test: list, version: str = "0123456789abcdef") -> Path:
    """Write ``<root>/<kind>/<version>/{train,test}.jsonl`` and ``LATEST``; return the version folder."""
    folder = root / kind / version
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("test", test)):
        text = "".join(row.model_dump_json() + "\n" for row in rows)
        (folder / split_file(split)).write_text(text, encoding="utf-8")
    (root / kind / LATEST).write_text(version + "\n", encoding="utf-8")
    return folder


TINY_LORA = {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"}
TINY_HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 1e-2,
    "batch_size": 2,
    "max_length": 64,
    "lr_scheduler": "constant",
    "lora": TINY_LORA,
}


def sft_config(base: Path | str, datasets: Path, out: Path, **extra: Any) -> SftConfig:
    values = {
        **TINY_HYPERPARAMETERS,
        "max_steps": 8,
        "base_model": str(base),
        "dataset_dir": str(datasets / "instruct"),
        "output_dir": str(out),
        **extra,
    }
    return parse_config("sft", values)  # type: ignore[return-value]


def dpo_config(base: Path | str, datasets: Path, out: Path, **extra: Any) -> DpoConfig:
    values = {
        **TINY_HYPERPARAMETERS,
        "max_steps": 6,
        "beta": 0.1,
        "base_model": str(base),
        "dataset_dir": str(datasets / "preference"),
        "output_dir": str(out),
        **extra,
    }
    return parse_config("dpo", values)  # type: ignore[return-value]
