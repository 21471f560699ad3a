"""The feature pipeline's logic: a warehouse change → clean → chunk → embed → vector index.

Called by the stream handler (lambdas/feature_indexer) on AWS and locally (through the local stream
poller, which calls that same handler), and by ``llm-twin features --rebuild``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llm_twin.features.chunking import chunk_document
from llm_twin.features.models import Chunk, IndexedChunk
from llm_twin.features.ports import Embedder, VectorIndex
from llm_twin.features.tokens import TokenCounter
from llm_twin.warehouse.images import Image, document_from_image, document_id_of, item_type
from llm_twin.warehouse.records import Document
from llm_twin.warehouse.schema import ITEM_TYPE_DOCUMENT

Action = Literal["indexed", "unchanged", "deleted", "superseded", "ignored"]
WRITE_BATCH = 32  # documents per index write when indexing a list (rebuild)


@dataclass(frozen=True)
class ChangeOutcome:
    action: Action
    document_id: str | None = None
    chunks: int = 0


@dataclass(frozen=True)
class Change:
    """One stream record, understood: (re)index a document, delete one, or nothing to do."""

    action: Literal["index", "delete", "ignore"]
    document_id: str | None = None
    document: Document | None = None


def change_from_record(record: dict[str, Any]) -> Change:
    """Only document items matter. Raises (naming the problem) for a record that cannot be read."""
    data = record.get("dynamodb") or {}
    event_name = str(record.get("eventName"))
    new_image: Image | None = data.get("NewImage")
    old_image: Image | None = data.get("OldImage")
    if item_type(new_image or old_image) != ITEM_TYPE_DOCUMENT:
        return Change("ignore")
    if event_name == "REMOVE":
        return Change("delete", document_id_of(data.get("Keys") or {}, old_image))
    if new_image is None:
        raise ValueError(f"{event_name} record without NewImage (the stream must be NEW_AND_OLD_IMAGES)")
    document = document_from_image(new_image)
    return Change("index", document.document_id, document)


Outcome = ChangeOutcome | Exception


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
    def apply_stream_records(self, records: Sequence[dict[str, Any]]) -> list[Outcome]:
        """A batch of DynamoDB Streams records, in stream order: per record its outcome, or the
        exception that this record alone fails with. Idempotent: redelivering records, or a MODIFY
        that did not change the content, changes nothing."""
        changes: list[Change | Exception] = []
        for record in records:
            try:
                changes.append(change_from_record(record))
            except Exception as exc:  # the record's own failure, for it alone
                changes.append(exc)
        return self.apply_changes(changes)

    def apply_stream_record(self, record: dict[str, Any]) -> ChangeOutcome:
        return _raise_or_return(self.apply_stream_records([record])[0])

    def apply_changes(self, changes: Sequence[Change | Exception]) -> list[Outcome]:
        """Write the batch together — one index lookup, one embedding call, one delete, one upsert —
        since per-document writes cost a commit each. The last change of a document wins (earlier
        ones are ``superseded``). If the batch write fails, each change is written on its own, so a
        failure stays with the change that causes it and the others still land."""
        outcomes: list[Outcome | None] = [c if isinstance(c, Exception) else None for c in changes]
        latest: dict[str, int] = {}
        for position, change in enumerate(changes):
            if isinstance(change, Exception):
                continue
            if change.action == "ignore" or change.document_id is None:
                outcomes[position] = ChangeOutcome("ignored")
                continue
            if change.document_id in latest:
                outcomes[latest[change.document_id]] = ChangeOutcome("superseded", change.document_id)
            latest[change.document_id] = position
        effective: dict[int, Change] = {}
        for position in latest.values():
            change = changes[position]
            assert isinstance(change, Change)
            effective[position] = change
        written: dict[int, Outcome]
        try:
            written = dict(self._write(effective))
        except Exception as exc:  # narrowed to the failing change(s) by writing each on its own
            written = {next(iter(effective)): exc} if len(effective) == 1 else self._write_each(effective)
        for position, outcome in written.items():
            outcomes[position] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    def _write_each(self, changes: dict[int, Change]) -> dict[int, Outcome]:
        written: dict[int, Outcome] = {}
        for position, change in changes.items():
            try:
                written.update(self._write({position: change}))
            except Exception as exc:  # this change's own failure
                written[position] = exc
        return written

    def _write(self, changes: dict[int, Change]) -> dict[int, ChangeOutcome]:
        if not changes:
            return {}
        self._ensure_index()
        indexed = self._index.indexed_documents([c.document_id for c in changes.values() if c.document_id])
        outcomes: dict[int, ChangeOutcome] = {}
        planned: list[Chunk] = []
        stale: list[str] = []
        for position, change in changes.items():
            document_id = str(change.document_id)
            current = indexed.get(document_id)
            if current is not None:
                stale.append(document_id)
            if change.action == "delete" or change.document is None:
                outcomes[position] = ChangeOutcome("deleted", document_id, current.chunks if current else 0)
            elif current is not None and current.content_hash == change.document.content_hash:
                outcomes[position] = ChangeOutcome("unchanged", document_id)
                stale.remove(document_id)
            else:
                chunks = chunk_document(change.document, self._counter)
                planned.extend(chunks)
                outcomes[position] = ChangeOutcome("indexed", document_id, len(chunks))
        # Stale chunks go first: if we stop half-way, the chunks left carry the old hash, so the retry
        # sees a hash mismatch and indexes again (upsert first could leave a stale tail behind).
        if stale:
            self._index.delete_documents(stale, keep=[chunk.chunk_id for chunk in planned])
        if planned:
            vectors = self._embedder.embed_documents([chunk.embed_text for chunk in planned])
            self._index.upsert(
                [
                    IndexedChunk(**chunk.model_dump(), vector=vector)
                    for chunk, vector in zip(planned, vectors, strict=True)
                ]
            )
        return outcomes

    # --- documents --------------------------------------------------------------------------------
    def index_document(self, document: Document) -> ChangeOutcome:
        return self.index_documents([document])[0]

    def index_documents(self, documents: Iterable[Document]) -> list[ChangeOutcome]:
        """Index in writes of WRITE_BATCH documents; raises the first failure."""
        pending = [Change("index", document.document_id, document) for document in documents]
        outcomes: list[ChangeOutcome] = []
        for start in range(0, len(pending), WRITE_BATCH):
            batch = self.apply_changes(pending[start : start + WRITE_BATCH])
            outcomes.extend(_raise_or_return(outcome) for outcome in batch)
        return outcomes


def _raise_or_return(outcome: Outcome) -> ChangeOutcome:
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


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
