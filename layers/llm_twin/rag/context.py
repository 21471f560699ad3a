"""Context assembly: reranked chunks into numbered sources within a token budget.

Chunks are taken in rerank order while they fit; chunks of one document share one header
``[n] Title — link`` (n in order of first appearance) and are printed in document order, adjacent
chunks joined, gaps marked ``…``. Tokens are counted with the embedder's WordPiece counter (close to
the chat model's tokenizer for English prose; the budget leaves headroom for the difference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from llm_twin.features.tokens import TokenCounter
from llm_twin.rag.hybrid import Candidate

GAP = "\n…\n"


@dataclass
class SourceGroup:
    number: int
    title: str
    link: str
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def header(self) -> str:
        return f"[{self.number}] {self.title} — {self.link}"

    def _ordered(self) -> list[Candidate]:
        return sorted(self.candidates, key=lambda c: c.chunk.chunk_index)

    def tokens(self, counter: TokenCounter) -> int:
        """``counter.count(self.render())`` from the parts' counts (memoised per chunk): WordPiece
        splits on whitespace first, so the count of newline-joined parts is the sum of theirs."""
        ordered = self._ordered()
        gaps = sum(1 for a, b in pairwise(ordered) if b.chunk.chunk_index != a.chunk.chunk_index + 1)
        return (
            counter.count(self.header)
            + sum(counter.count(c.chunk.text.strip()) for c in ordered)
            + gaps * counter.count(GAP)
        )

    def render(self) -> str:
        parts: list[str] = []
        previous: int | None = None
        for candidate in self._ordered():
            index = candidate.chunk.chunk_index
            if previous is not None:
                parts.append("\n" if index == previous + 1 else GAP)
            parts.append(candidate.chunk.text.strip())
            previous = index
        return f"{self.header}\n{''.join(parts)}"


@dataclass
class Context:
    groups: list[SourceGroup]
    text: str
    tokens: int

    @property
    def candidates(self) -> list[Candidate]:
        return [c for g in self.groups for c in g.candidates]

    def number_of(self, chunk_id: str) -> int | None:
        return next(
            (g.number for g in self.groups for c in g.candidates if c.chunk.chunk_id == chunk_id), None
        )


def truncate_tokens(text: str, counter: TokenCounter, budget: int) -> str:
    """The longest word prefix of ``text`` within ``budget`` tokens (binary search on words)."""
    words = text.split(" ")
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count(" ".join(words[:middle])) <= budget:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low]) + (" …" if low < len(words) else "")


def render(groups: Sequence[SourceGroup]) -> str:
    return "\n\n".join(group.render() for group in groups)


def assemble_context(candidates: Sequence[Candidate], counter: TokenCounter, budget: int) -> Context:
    """Chunks in the given order while the whole context stays within ``budget`` tokens. A first
    chunk too long on its own is cut to fit, so a relevant source is never dropped entirely."""
    groups: dict[str, SourceGroup] = {}
    order: list[SourceGroup] = []
    used = 0
    for candidate in candidates:
        chunk = candidate.chunk
        group = groups.get(chunk.document_id)
        trial = order if group else [*order, SourceGroup(len(order) + 1, chunk.title, chunk.link)]
        target = group or trial[-1]
        before = target.tokens(counter) if group else 0
        target.candidates.append(candidate)
        tokens = used - before + target.tokens(counter)  # only the changed group is recounted
        if tokens <= budget:
            if group is None:
                groups[chunk.document_id] = target
                order = trial
            used = tokens
            continue
        target.candidates.pop()
        if not order:  # nothing fits yet: keep a cut-down first chunk
            room = budget - counter.count(target.header) - 2
            if room > 20:
                cut = Candidate(
                    chunk=chunk.model_copy(update={"text": truncate_tokens(chunk.text, counter, room)}),
                    score=candidate.score,
                    fusion=candidate.fusion,
                    dense=candidate.dense,
                    lexical=candidate.lexical,
                    features=candidate.features,
                )
                target.candidates.append(cut)
                groups[chunk.document_id] = target
                order = [target]
                used = target.tokens(counter)
    return Context(groups=order, text=render(order), tokens=used)
