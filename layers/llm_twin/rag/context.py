"""Context assembly: reranked chunks into numbered sources within a token budget.

Chunks are taken in rerank order while they fit; chunks of one document share one header
``[n] Title — link`` (n in order of first appearance) and are printed in document order, adjacent
chunks joined, gaps marked ``…``. Tokens are counted with the embedder's WordPiece counter (close to
the chat model's tokenizer for English prose; the budget leaves headroom for the difference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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

    def render(self) -> str:
        parts: list[str] = []
        previous: int | None = None
        for candidate in sorted(self.candidates, key=lambda c: c.chunk.chunk_index):
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
        target.candidates.append(candidate)
        tokens = counter.count(render(trial))
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
                used = counter.count(render(order))
    return Context(groups=order, text=render(order), tokens=used)
