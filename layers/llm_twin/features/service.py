"""The feature pipeline's logic: a warehouse change → clean → chunk → embed → vector index.

Called by the stream handler (lambdas/feature_indexer) on AWS and locally (through the local stream
poller, which calls that same handler), and by ``llm-twin features --rebuild``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llm_twin.features.chunking import chunk_document
from llm_twin.features.models import IndexedChunk
from llm_twin.features.ports import Embedder, VectorIndex
from llm_twin.features.tokens import TokenCounter
from llm_twin.warehouse.images import Image, document_from_image, document_id_of, item_type
from llm_twin.warehouse.records import Document
from llm_twin.warehouse.schema import ITEM_TYPE_DOCUMENT

Action = Literal["indexed", "unchanged", "deleted", "ignored"]


@dataclass(frozen=True)
class ChangeOutcome:
    action: Action
    document_id: str | None = None
    chunks: int = 0


class FeatureService:
    def __init__(self, index: VectorIndex, embedder: Embedder, counter: TokenCounter) -> None:
        self._index = index
        self._embedder = embedder
        self._counter = counter
        self._ready = False

    @property
    def index(self) -> VectorIndex:
        return self._index

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def counter(self) -> TokenCounter:
        return self._counter

    def _ensure_index(self) -> None:
        """Create the index on first write; refuse one built with another embedder (IndexMismatchError)."""
        if not self._ready:
            self._index.ensure(self._embedder.model_name, self._embedder.dimension)
            self._ready = True

    # --- stream changes ---------------------------------------------------------------------------
    def apply_change(
        self, event_name: str, keys: Image, new_image: Image | None, old_image: Image | None
    ) -> ChangeOutcome:
        """One DynamoDB Streams record. Only document items are indexed; everything is idempotent:
        redelivering a record, or a MODIFY that did not change the content, changes nothing."""
        if item_type(new_image or old_image) != ITEM_TYPE_DOCUMENT:
            return ChangeOutcome("ignored")
        if event_name == "REMOVE":
            document_id = document_id_of(keys, old_image)
            self._ensure_index()
            return ChangeOutcome("deleted", document_id, self._index.delete_document(document_id))
        if new_image is None:
            raise ValueError(f"{event_name} record without NewImage (the stream must be NEW_AND_OLD_IMAGES)")
        return self.index_document(document_from_image(new_image))

    def apply_stream_record(self, record: dict[str, Any]) -> ChangeOutcome:
        data = record.get("dynamodb") or {}
        return self.apply_change(
            str(record.get("eventName")), data.get("Keys") or {}, data.get("NewImage"), data.get("OldImage")
        )

    # --- documents --------------------------------------------------------------------------------
    def index_document(self, document: Document) -> ChangeOutcome:
        self._ensure_index()
        if self._index.document_hash(document.document_id) == document.content_hash:
            return ChangeOutcome("unchanged", document.document_id)
        chunks = chunk_document(document, self._counter)
        # Stale chunks go first: if we stop half-way, the chunks left carry the old hash, so the retry
        # sees a hash mismatch and indexes again (upsert first could leave a stale tail behind).
        self._index.delete_document(document.document_id, keep=[chunk.chunk_id for chunk in chunks])
        if chunks:
            vectors = self._embedder.embed_documents([chunk.embed_text for chunk in chunks])
            indexed = [
                IndexedChunk(**chunk.model_dump(), vector=vector)
                for chunk, vector in zip(chunks, vectors, strict=True)
            ]
            self._index.upsert(indexed)
        return ChangeOutcome("indexed", document.document_id, len(chunks))

    def index_documents(self, documents: Iterable[Document]) -> list[ChangeOutcome]:
        return [self.index_document(document) for document in documents]


def rebuild(
    documents: Sequence[Document], index: Any, embedder: Embedder, counter: TokenCounter
) -> tuple[str, int]:
    """Embed every document into a fresh generation of ``index`` and switch to it (the alias on
    OpenSearch, the manifest locally); the old generation is dropped only after the switch."""
    previous = index.info()
    generation = index.create_generation(embedder.model_name, embedder.dimension)
    service = FeatureService(generation, embedder, counter)
    chunks = sum(outcome.chunks for outcome in service.index_documents(documents))
    index.activate(generation)
    if previous is not None and previous.name != generation.info().name:
        index.drop_generation(previous.name)
    return generation.info().name, chunks
