"""Documents and chat models for the dataset tests."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from llm_twin.domain.models import Category, Platform
from llm_twin.errors import LlmError
from llm_twin.llm.ports import ChatMessage, Generation, GenerationParams
from llm_twin.warehouse.records import Document
from training.datasets.generation import DRAFT_SYSTEM_PROMPT

NOW = datetime(2025, 1, 1, tzinfo=UTC)
TOPICS = [
    "streams", "retries", "embeddings", "chunking", "evaluation", "budgets", "lambdas", "tokens",
    "queues", "schemas", "caches", "indexes", "alerts", "runbooks", "cycling", "newsletters",
]  # fmt: skip


def prose(seed: str, words: int) -> str:
    """Deterministic English-looking prose of about ``words`` words, in paragraphs of ~60 words."""
    rng = random.Random(seed)
    fillers = ["the", "and", "of", "to", "a", "in", "that", "is", "we", "it", "for", "with", "on", "our"]
    out: list[str] = []
    paragraph: list[str] = []
    for i in range(words):
        word = rng.choice(fillers) if i % 2 else f"{rng.choice(TOPICS)}{rng.randint(0, 999)}"
        paragraph.append(word)
        if len(paragraph) >= 60:
            out.append(" ".join(paragraph) + ".")
            paragraph = []
    if paragraph:
        out.append(" ".join(paragraph) + ".")
    return "\n\n".join(out)


def document(
    name: str,
    content: str,
    *,
    category: Category = Category.ARTICLE,
    platform: Platform = Platform.MEDIUM,
    metadata: dict[str, str] | None = None,
    author: str = "Nell Harrowgate",
    title: str | None = None,
) -> Document:
    author_id = hashlib.sha256(author.encode()).hexdigest()[:12]
    return Document(
        document_id=hashlib.sha256(name.encode()).hexdigest()[:32],
        author_id=author_id,
        author_name=author,
        platform=platform,
        category=category,
        link=f"https://example.com/{name}",
        title=title or name.replace("-", " ").title(),
        content=content,
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
        metadata=metadata or {},
        crawled_at=NOW,
        updated_at=NOW,
    )


def corpus(n: int = 8, words: int = 300) -> list[Document]:
    return [document(f"doc-{i}", prose(f"doc-{i}", words)) for i in range(n)]


Reply = str | Exception | Callable[[Sequence[ChatMessage]], str]


class ScriptedChatModel:
    """A ChatModel that answers instruction prompts from ``instruction_replies`` (cycled) and draft
    prompts from ``draft_replies``; an Exception in a script is raised instead."""

    model_name = "scripted"

    def __init__(self, instruction_replies: Sequence[Reply], draft_replies: Sequence[Reply] = ()) -> None:
        self.instruction_replies = list(instruction_replies)
        self.draft_replies = list(draft_replies) or [
            "Here is my own take on it: we tried a few approaches, measured them, and kept the simplest "
            "one that worked for the team, which is usually how these things go in practice."
        ]
        self.calls: list[tuple[str, list[ChatMessage], GenerationParams]] = []

    def _next(self, kind: str, script: list[Reply], messages: Sequence[ChatMessage]) -> str:
        n = sum(1 for k, _, _ in self.calls if k == kind)
        reply = script[n % len(script)]
        if isinstance(reply, Exception):
            raise reply
        return reply(messages) if callable(reply) else reply

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams | None = None) -> Generation:
        params = params or GenerationParams()
        kind = "draft" if messages[0].content == DRAFT_SYSTEM_PROMPT else "instruction"
        script = self.draft_replies if kind == "draft" else self.instruction_replies
        try:
            text = self._next(kind, script, messages)
        finally:
            self.calls.append((kind, list(messages), params))
        return Generation(text=text, model=self.model_name, completion_tokens=len(text.split()))


def failing(message: str = "boom") -> LlmError:
    return LlmError(message)
