"""The feature pipeline's ports. Adapters: ``embedding/`` (local sentence-transformers, Bedrock) and
``index/`` (embedded LanceDB, OpenSearch). No adapter connects or loads a model at import or init."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from llm_twin.features.models import IndexedChunk, IndexedDocument, IndexInfo, SearchFilters, SearchHit


@runtime_checkable
class Embedder(Protocol):
    model_name: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in order. Batches internally."""
        ...

    def embed_query(self, text: str) -> list[float]: ...

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Several queries in one call (a question and its expansions): one forward pass locally,
        concurrent requests on Bedrock."""
        ...


@runtime_checkable
class VectorIndex(Protocol):
    """One logical index of chunks (an alias on OpenSearch, a table on LanceDB)."""

    def ensure(self, model_name: str, dimension: int) -> IndexInfo:
        """Create the index if missing; raise IndexMismatchError if it holds another model/dimension."""
        ...

    def info(self) -> IndexInfo | None: ...

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        """Insert or overwrite by chunk_id."""
        ...

    def delete_documents(self, document_ids: Sequence[str], *, keep: Sequence[str] = ()) -> int:
        """Delete the documents' chunks except the chunk ids in ``keep``, in one request; returns how
        many were deleted."""
        ...

    def indexed_documents(self, document_ids: Sequence[str]) -> dict[str, IndexedDocument]:
        """Those of the documents that have chunks in the index, in one request."""
        ...

    def delete_document(self, document_id: str, *, keep: Sequence[str] = ()) -> int: ...

    def document_hash(self, document_id: str) -> str | None:
        """content_hash of the indexed chunks of a document (None when not indexed or mixed)."""
        ...

    def search(
        self, vector: Sequence[float], k: int, filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """Filtered k-NN, best first (cosine similarity as score)."""
        ...

    def search_many(
        self, vectors: Sequence[Sequence[float]], k: int, filters: SearchFilters | None = None
    ) -> list[list[SearchHit]]:
        """``search`` of each vector (a question and its expansions), in one request where the
        engine allows it; one list per vector, in order."""
        ...

    def lexical_search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[SearchHit]:
        """Filtered BM25 over chunk text, best first."""
        ...

    def count(self, filters: SearchFilters | None = None) -> int: ...
