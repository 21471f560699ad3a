"""What the feature pipeline produces and the vector index stores and returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from llm_twin.domain.models import Category, Platform


def chunk_id(document_id: str, index: int) -> str:
    """Deterministic: re-indexing a document overwrites its chunks, deleting it removes exactly them."""
    return f"{document_id}#{index:04d}"


class Chunk(BaseModel):
    chunk_id: str
    document_id: str
    chunk_index: int = Field(ge=0)
    author_id: str
    author_name: str
    platform: Platform
    category: Category
    link: str
    title: str
    section: str | None = Field(None, description="Heading path (articles) or file path / definition (code).")
    text: str = Field(description="The chunk itself, markdown, as shown to people and to the LLM.")
    embed_text: str = Field(
        description="What is embedded: title/section context + text, within the token bound."
    )
    content_hash: str = Field(description="Hash of the whole document's content this chunk came from.")
    published_at: datetime | None = None


class IndexedChunk(Chunk):
    vector: list[float]


class SearchFilters(BaseModel):
    """Every given field narrows the search; None means no constraint."""

    author_ids: list[str] | None = None
    platforms: list[Platform] | None = None
    categories: list[Category] | None = None
    document_ids: list[str] | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None


class SearchHit(BaseModel):
    chunk: Chunk
    score: float = Field(description="Higher is better. Cosine similarity for k-NN, BM25 for lexical.")


class IndexedDocument(BaseModel):
    """What the index holds of one document: enough to skip an unchanged one and report a delete."""

    content_hash: str | None = Field(
        description="The hash all its chunks agree on; None when they disagree (a re-index stopped half-way)."
    )
    chunks: int = Field(ge=1)


class IndexInfo(BaseModel):
    """What an index was built with: an index refuses vectors of another model or dimension."""

    name: str
    model_name: str
    dimension: int
    chunks: int
