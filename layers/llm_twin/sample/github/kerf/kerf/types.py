"""The one type kerf hands back."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, small enough to embed, with the headings it lives under.

    ``text`` is what you show to a person. Use :meth:`for_embedding` for what you give the
    embedder: the same text with its heading path in front, because the words people search
    for are very often only in the headings.
    """

    text: str
    index: int
    heading_path: tuple[str, ...] = ()
    token_estimate: int = 0

    @property
    def title(self) -> str:
        return " > ".join(self.heading_path)

    def for_embedding(self) -> str:
        return f"{self.title}\n\n{self.text}" if self.heading_path else self.text
