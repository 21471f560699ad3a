"""What both index adapters share: generation names, vector checks, errors, the rebuild protocol."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from llm_twin.errors import IndexMismatchError, InvalidInputError, LlmTwinError
from llm_twin.features.models import IndexedChunk, IndexInfo
from llm_twin.features.ports import VectorIndex

PAYLOAD_FIELDS = (
    "chunk_id",
    "document_id",
    "chunk_index",
    "author_id",
    "author_name",
    "platform",
    "category",
    "link",
    "title",
    "section",
    "text",
    "embed_text",
    "content_hash",
    "published_at",
)


class VectorIndexError(LlmTwinError):
    """The index refused a request for a reason a retry will not fix (not created yet, mapping
    conflict, bad query, access denied)."""


@runtime_checkable
class GenerationalIndex(VectorIndex, Protocol):
    """A VectorIndex that can be rebuilt beside itself and switched over atomically.

    ``create_generation`` returns an index bound to a fresh, empty generation (a LanceDB table, an
    OpenSearch index); ``activate`` points the logical index (manifest / alias) at it in one step;
    ``drop_generation`` deletes an inactive one.
    """

    @property
    def generation(self) -> str | None: ...

    def create_generation(self, model_name: str, dimension: int) -> GenerationalIndex: ...

    def activate(self, generation: str | GenerationalIndex) -> str | None: ...

    def drop_generation(self, name: str) -> None: ...

    def generations(self) -> list[str]: ...


def new_generation_name(index_name: str, now: datetime | None = None) -> str:
    """``<index_name>-v<UTC timestamp to the microsecond>``: sortable, unique per writer."""
    return f"{index_name}-v{(now or datetime.now(UTC)).strftime('%Y%m%d%H%M%S%f')}"


def is_generation_of(index_name: str, name: str) -> bool:
    return re.fullmatch(re.escape(index_name) + r"-v\d{20}", name) is not None


def generation_name_of(generation: str | GenerationalIndex) -> str:
    if isinstance(generation, str):
        return generation
    name = generation.generation
    if name is None:
        raise InvalidInputError("activate() needs a generation name or an index from create_generation()")
    return name


def unit(vector: Sequence[float], dimension: int) -> list[float]:
    """``vector`` scaled to unit length; refuses the wrong dimension, zero and non-finite vectors."""
    if len(vector) != dimension:
        raise IndexMismatchError(f"vector of dimension {len(vector)} for an index of dimension {dimension}")
    values = [float(x) for x in vector]
    norm = math.sqrt(math.fsum(x * x for x in values))
    if norm == 0.0 or not math.isfinite(norm):
        raise InvalidInputError("cannot index or search a zero or non-finite vector")
    return [x / norm for x in values]


def check_compatible(info: IndexInfo, model_name: str, dimension: int) -> IndexInfo:
    if info.model_name != model_name or info.dimension != dimension:
        raise IndexMismatchError(
            f"index {info.name} holds {info.model_name} ({info.dimension} dims), the embedder is "
            f"{model_name} ({dimension} dims): rebuild the index (a new generation) for this embedder"
        )
    return info


def check_k(k: int) -> None:
    if k < 1 or k > 10_000:
        raise InvalidInputError(f"k must be between 1 and 10000, got {k}")


def dedupe(chunks: Sequence[IndexedChunk]) -> list[IndexedChunk]:
    """The last chunk per chunk_id, in first-seen order (one batch must not hold an id twice)."""
    latest: dict[str, IndexedChunk] = {}
    for chunk in chunks:
        latest[chunk.chunk_id] = chunk
    return list(latest.values())


def single_hash(hashes: Sequence[str]) -> str | None:
    """The document's content hash when all its indexed chunks agree on it, else None.

    Mixed hashes mean a re-index stopped half-way: None makes the caller index the document again,
    which removes the stale chunks.
    """
    distinct = set(hashes)
    return distinct.pop() if len(distinct) == 1 else None
