"""Offline stand-ins: a bag-of-words embedder, a scripted chat model, an author directory."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from llm_twin.errors import LlmError
from llm_twin.features.models import IndexedChunk
from llm_twin.llm.ports import ChatMessage, Generation, GenerationParams
from llm_twin.rag.rerank import terms
from llm_twin.warehouse.records import Author

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class BowEmbedder:
    """Hashed bag of words (stop words out): cosine ≈ shared vocabulary. Deterministic, instant."""

    model_name = "test-bow"
    dimension = 128

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for token in terms(text) or ["empty"]:
            vector[int(hashlib.md5(token.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector]

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]


Reply = str | Callable[[Sequence[ChatMessage]], str] | Exception


class ScriptedChatModel:
    """Stands in for the model endpoint: replies by task (self-query, expansion, answer/draft)."""

    model_name = "scripted"

    def __init__(
        self, *, self_query: Reply = "{}", expansion: Reply = "", answer: Reply = "Answer [1]."
    ) -> None:
        self.replies = {"self_query": self_query, "expansion": expansion, "answer": answer}
        self.calls: list[tuple[str, list[ChatMessage]]] = []

    @staticmethod
    def task(messages: Sequence[ChatMessage]) -> str:
        system = messages[0].content
        if system.startswith("Extract search filters"):
            return "self_query"
        if system.startswith("Rewrite the search question"):
            return "expansion"
        return "answer"

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams | None = None) -> Generation:
        task = self.task(messages)
        self.calls.append((task, list(messages)))
        reply = self.replies[task]
        if isinstance(reply, Exception):
            raise reply
        text = reply(messages) if callable(reply) else reply
        return Generation(text=text, model=self.model_name)

    def count(self, task: str) -> int:
        return sum(1 for name, _ in self.calls if name == task)


def failing(message: str = "endpoint down") -> LlmError:
    return LlmError(message)


class Directory:
    """Read-only author directory (no upsert: creating an author would fail loudly)."""

    def __init__(self, *names: str) -> None:
        from llm_twin.ids import author_id

        self.authors = [
            Author(author_id=author_id(n), full_name=n, created_at=NOW, updated_at=NOW) for n in names
        ]

    def list_authors(self) -> list[Author]:
        return list(self.authors)

    def get_author(self, author_id: str) -> Author | None:
        return next((a for a in self.authors if a.author_id == author_id), None)


def chunk(
    author: str,
    doc: str,
    index: int,
    text: str,
    *,
    title: str | None = None,
    platform: str = "medium",
    category: str = "article",
    published: datetime | None = None,
) -> dict:
    from llm_twin.ids import author_id

    return {
        "chunk_id": f"{doc}#{index:04d}",
        "document_id": doc,
        "chunk_index": index,
        "author_id": author_id(author),
        "author_name": author,
        "platform": platform,
        "category": category,
        "link": f"https://example.com/{doc}",
        "title": title or doc.replace("-", " ").title(),
        "section": None,
        "text": text,
        "embed_text": f"{title or doc} — {text}",
        "content_hash": f"h-{doc}",
        "published_at": published,
    }


def indexed(embedder: BowEmbedder, rows: Sequence[dict]) -> list[IndexedChunk]:
    vectors = embedder.embed_documents([r["embed_text"] for r in rows])
    return [IndexedChunk(**row, vector=v) for row, v in zip(rows, vectors, strict=True)]
