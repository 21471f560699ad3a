"""The dataset contract between dataset building and fine-tuning: JSONL rows, the card, the layout.

A dataset version is a folder ``<root>/<kind>/<version>/`` holding ``train.jsonl``, ``test.jsonl``,
``card.json`` and ``card.md``; ``<root>/<kind>/LATEST`` names the newest version. The version is the
first 16 hex digits of the SHA-256 of the two JSONL files' bytes (train then test), so the same data
always gets the same version. ``<root>`` is a local folder or an ``s3://bucket/prefix``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_twin.domain.models import Category, Platform

Kind = Literal["instruct", "preference"]
KINDS: tuple[Kind, ...] = ("instruct", "preference")
Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = ("train", "test")
LATEST = "LATEST"
CARD_JSON = "card.json"
CARD_MD = "card.md"


def split_file(split: Split) -> str:
    return f"{split}.jsonl"


class Provenance(BaseModel):
    """Where a sample came from: every row keeps its source document (the split is by document)."""

    model_config = ConfigDict(extra="forbid")

    document_id: str
    author_id: str
    author_name: str
    platform: Platform
    category: Category
    link: str
    title: str
    extract_index: int = Field(ge=0, description="Which extract of the document (0-based).")


class InstructionSample(BaseModel):
    """One instruction/answer pair grounded in one extract of the author's writing.

    ``answer`` is the author's own words (the extract, lightly trimmed) or an answer the generator wrote
    strictly from the extract; ``answer_source`` says which."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="sha256 hex of instruction + answer (exact-duplicate key).")
    instruction: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    answer_source: Literal["author", "generated"]
    system: str | None = Field(None, description="Optional system prompt used at training and serving.")
    provenance: Provenance


class PreferenceSample(BaseModel):
    """DPO triple: the author's own text is preferred over a model draft for the same prompt."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="sha256 hex of prompt + chosen.")
    prompt: str = Field(min_length=1)
    chosen: str = Field(min_length=1, description="The author's own text.")
    rejected: str = Field(min_length=1, description="A model's draft for the same prompt.")
    system: str | None = None
    provenance: Provenance


class LengthStats(BaseModel):
    count: int
    mean_words: float
    p50_words: float
    p95_words: float
    max_words: int


class DatasetCard(BaseModel):
    """What a dataset version holds and how it was made (card.json; card.md is its rendering)."""

    kind: Kind
    version: str
    created_at: datetime
    generator_model: str = Field(description="The LLM that wrote instructions / rejected drafts.")
    source_documents: int
    extracts: int
    counts: dict[str, int] = Field(description="Rows per split: {'train': n, 'test': m}.")
    per_author: dict[str, int]
    per_category: dict[str, int]
    lengths: dict[str, LengthStats] = Field(description="Word lengths per field (instruction, answer...).")
    filters: dict[str, int] = Field(description="Rows removed per filter (exact, near duplicate...).")
    errors: dict[str, int] = Field(description="Generation failures per reason (after retries/repair).")
    split: dict[str, float | int | str] = Field(description="How the split was made (by document...).")
    parameters: dict[str, float | int | str | bool | None] = Field(default_factory=dict)
