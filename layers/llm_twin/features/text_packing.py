"""Fitting prose into token budgets: splitting oversized text, packing pieces with sentence overlap.

A ``Piece`` is one block of a section (a paragraph, list, table, heading or fenced block) with the
separator that joins it to the previous piece. ``Packer.pack`` packs a section's pieces into as few
chunks as greedy packing gives, evened out, each chunk after the first starting with the previous
chunk's last whole sentences (``overlap`` tokens). ``split_text`` cuts a block too big alone by lines,
sentences, words, then characters. Everything counts through a ``Count`` function, so nothing here
depends on a tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Count = Callable[[str], int]

_SENTENCE_END = re.compile("[.!?\u2026][\"'\u201d\u2019)\\]*_]*(?=\\s)")
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Piece:
    text: str
    sep: str = "\n\n"  # joins it to the previous piece of the same chunk
    prose: bool = True  # may lend its last sentences as overlap


def join_pieces(pieces: list[Piece]) -> str:
    return "".join((piece.sep if i else "") + piece.text for i, piece in enumerate(pieces))


@dataclass(frozen=True)
class Packer:
    """Packs pieces into chunk texts that fit ``max_tokens`` together with a prefix."""

    count: Count
    max_tokens: int
    overlap: int

    def pack(self, pieces: list[Piece], prefix: str) -> list[str]:
        """Pieces packed into chunks that fit with ``prefix``: as few as greedy packing gives, then
        evened out (the smallest size limit that needs no more chunks). A chunk after the first
        starts with the previous chunk's last sentences when they are prose and leave room."""
        budget = self.max_tokens - self.count(prefix)
        chunks = self._pack_greedy(pieces, budget)
        if len(chunks) > 1:
            low = max(1, -(-sum(self.count(piece.text) for piece in pieces) // len(chunks)))
            high = budget
            while low < high:
                middle = (low + high) // 2
                if len(self._pack_greedy(pieces, middle)) <= len(chunks):
                    high = middle
                else:
                    low = middle + 1
            chunks = self._pack_greedy(pieces, low)
        texts = [join_pieces(chunk) for chunk in chunks]
        if any(self.count(prefix + text) > self.max_tokens for text in texts):
            texts = [join_pieces(chunk) for chunk in self._pack_exact(pieces, prefix)]
        return [text for text in texts if text.strip()]

    def _pack_greedy(self, pieces: list[Piece], limit: int) -> list[list[Piece]]:
        """Greedy packing on summed piece counts (exact for WordPiece: pieces join at whitespace)."""
        chunks: list[list[Piece]] = []
        current: list[Piece] = []
        size = 0
        for piece in pieces:
            tokens = self.count(piece.text)
            if current and size + tokens <= limit:
                current.append(piece)
                size += tokens
                continue
            if current:
                chunks.append(current)
                tail = self._tail(current)
                if tail is not None and self.count(tail.text) + tokens <= limit:
                    current, size = [tail, piece], self.count(tail.text) + tokens
                    continue
            current, size = [piece], tokens
        if current:
            chunks.append(current)
        return chunks

    def _pack_exact(self, pieces: list[Piece], prefix: str) -> list[list[Piece]]:
        """Greedy packing that counts every candidate chunk (for counters that are not additive)."""
        chunks: list[list[Piece]] = []
        current: list[Piece] = []
        for piece in pieces:
            if current and self._fits([*current, piece], prefix):
                current.append(piece)
                continue
            if current:
                chunks.append(current)
                tail = self._tail(current)
                if tail is not None and self._fits([tail, piece], prefix):
                    current = [tail, piece]
                    continue
            current = [piece]
        if current:
            chunks.append(current)
        return chunks

    def _fits(self, pieces: list[Piece], prefix: str) -> bool:
        return self.count(prefix + join_pieces(pieces)) <= self.max_tokens

    def _tail(self, chunk: list[Piece]) -> Piece | None:
        """The end of the chunk's last piece to repeat at the start of the next chunk: its most whole
        last sentences within the overlap budget (if the last sentence alone is too long, its last
        words). None for code, tables and headings, or when it would repeat the whole chunk."""
        piece = chunk[-1]
        if not piece.prose or self.overlap == 0:
            return None
        line = piece.text.rsplit("\n", 1)[-1]
        starts = [m.end() for m in _SENTENCE_END.finditer(line)]
        starts = [0, *(space.end() for cut in starts if (space := _WHITESPACE.match(line, cut)))]
        chosen = ""
        for start in reversed(starts):  # longer and longer runs of whole sentences
            if not line[start:].strip():
                continue
            if self.count(line[start:]) > self.overlap:
                break
            chosen = line[start:]
        if not chosen:  # the last sentence alone is too long: its last words
            last = starts[-1] if line[starts[-1] :].strip() else 0
            words = [m.start() for m in _WORD.finditer(line, last)]
            fitting = [w for w in words if self.count(line[w:]) <= self.overlap]
            chosen = line[fitting[0] :] if fitting else ""
        if not chosen.strip() or chosen.strip() == join_pieces(chunk).strip():
            return None
        return Piece(chosen, "", prose=True)


def split_text(text: str, budget: int, count: Count, level: int = 0) -> list[tuple[str, str]]:
    """``(separator before, fragment)`` pairs: by lines, sentences, words, then characters."""
    if count(text) <= budget:
        return [("", text)]
    if level >= 3:
        return [("", part) for part in hard_split(text, budget, count)]
    parts = _split_once(text, level)
    if len(parts) == 1:
        return split_text(parts[0][1], budget, count, level + 1)
    out: list[tuple[str, str]] = []
    for sep, part in parts:
        sub = split_text(part, budget, count, level + 1)
        out.append((sep, sub[0][1]))
        out.extend(sub[1:])
    return out


def _split_once(text: str, level: int) -> list[tuple[str, str]]:
    """``(separator before, part)`` at one level: 0 lines, 1 sentences, 2 words."""
    if level == 0:
        return [("\n", line) for line in text.split("\n") if line.strip()] or [("", text)]
    pattern = _SENTENCE_END if level == 1 else _WHITESPACE
    cuts = [match.end() if level == 1 else match.start() for match in pattern.finditer(text)]
    out: list[tuple[str, str]] = []
    start, sep = 0, ""
    for cut in cuts:
        space = _WHITESPACE.match(text, cut)
        if space is None or cut <= start:
            continue
        if text[start:cut].strip():
            out.append((sep, text[start:cut]))
            sep = space.group(0)
        start = space.end()
    if text[start:].strip():
        out.append((sep, text[start:]))
    return out or [("", text)]


def hard_split(text: str, budget: int, count: Count) -> list[str]:
    """``text`` cut by characters into consecutive parts of at most ``budget`` tokens each."""
    parts: list[str] = []
    while text:
        part = cut(text, budget, count)
        parts.append(part)
        text = text[len(part) :]
    return parts


def cut(text: str, budget: int, count: Count) -> str:
    """The longest prefix of ``text`` within ``budget`` tokens (at least one character)."""
    low, high = 1, min(len(text), 8 * budget)
    while high < len(text) and count(text[:high]) <= budget:  # grow the window only as needed
        low, high = high, min(len(text), high * 2)
    while low < high:
        middle = (low + high + 1) // 2
        if count(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low]
