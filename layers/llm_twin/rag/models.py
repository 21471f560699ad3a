"""Requests and answers of the RAG inference pipeline (the HTTP API's ``/rag`` and ``/generate``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from llm_twin.domain.models import Category, Platform


class RagRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    author: str | None = Field(None, max_length=200, description="Full name; narrows retrieval to them.")
    k: int = Field(5, ge=1, le=20, description="Chunks placed in the prompt.")
    expand: bool = Field(True, description="Query expansion with the LLM.")
    rerank: bool = Field(True)


class DraftRequest(BaseModel):
    kind: Literal["linkedin_post", "article"] = "linkedin_post"
    prompt: str = Field(min_length=1, max_length=4000)
    link: str | None = Field(None, max_length=2048, description="An external resource to draw on (fetched).")
    author: str | None = Field(None, max_length=200)


class Source(BaseModel):
    number: int = Field(ge=1, description="The [n] of this source's document in the prompt and the answer.")
    cited: bool = Field(description="Whether the answer cites [n].")
    title: str
    link: str
    platform: Platform
    category: Category
    document_id: str
    chunk_id: str
    score: float
    excerpt: str


class QueryFilters(BaseModel):
    """What self-query extracted from the question (validated; read-only: never creates authors)."""

    author: str | None = None
    platforms: list[Platform] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    published_after: datetime | None = None
    published_before: datetime | None = None


class RagAnswer(BaseModel):
    answer: str
    sources: list[Source]
    trace_id: str
    grounded: bool = Field(description="False when retrieval found nothing relevant (the twin says so).")
