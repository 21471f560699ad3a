"""Evaluation fixtures: the fine-tuning suite's tiny model, fixture datasets and tiny SFT/DPO runs
(imported, so a run of this folder alone trains them once), a scripted judge and a cheap embedder."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

from llm_twin.llm.ports import ChatMessage, Generation, GenerationParams
from tests.finetune.conftest import datasets_root, dpo_run, sft_run, tiny_model
from training.finetune.run import RunResult

__all__ = ["HashEmbedder", "ScriptedModel", "datasets_root", "dpo_run", "sft_run", "tiny_model"]


class ScriptedModel:
    """A ChatModel replying with ``replies`` in turn (the last one repeats); records the calls."""

    model_name = "scripted-judge"

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)
        self.calls: list[list[ChatMessage]] = []

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams | None = None) -> Generation:
        self.calls.append(list(messages))
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        return Generation(text=reply, model=self.model_name)


class HashEmbedder:
    """Deterministic unit vectors from word hashes (bag of words): similar texts, similar vectors."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * 64
            for word in text.lower().split():
                vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            vectors.append([v / norm for v in vector])
        return vectors


def verdict(accuracy: int, style: int = 3) -> str:
    return json.dumps({"accuracy": accuracy, "style": style, "justification": "scripted"})


def workflow_args(
    tiny_model: Path, sft_run: RunResult, dpo_run: RunResult, datasets_root: Path, out: Path
) -> list[str]:
    return [  # the workflow's arguments (training.asl.json, Evaluate), with local folders
        "--model",
        dpo_run.merged_dir,
        "--sft-model",
        sft_run.merged_dir,
        "--dataset",
        str(datasets_root / "instruct"),
        "--output",
        str(out),
        "--base-model",
        str(tiny_model),
        "--model-package-group",
        "llm-twin-test-twin",
        "--max-new-tokens",
        "6",
    ]
