"""Plain-text splitting: cut at the coarsest boundary that fits, then pack pieces into windows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .tokens import TokenCounter, estimate_tokens
from .types import Chunk

DEFAULT_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", ". ", " ")

_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s)")


def check_limits(max_tokens: int, overlap: int) -> None:
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap < max_tokens:
        raise ValueError("overlap must be at least 0 and smaller than max_tokens")


def split_to_fit(
    text: str,
    max_tokens: int,
    count: TokenCounter = estimate_tokens,
    separators: Sequence[str] = DEFAULT_SEPARATORS,
) -> list[str]:
    """Split ``text`` into pieces of at most ``max_tokens``, preferring the coarsest separator.

    Separators stay attached to the piece before them, so ``"".join(pieces) == text``.
    """
    if count(text) <= max_tokens:
        return [text]
    for position, separator in enumerate(separators):
        if separator not in text:
            continue
        parts = text.split(separator)
        pieces = [part + separator for part in parts[:-1]] + [parts[-1]]
        out: list[str] = []
        for piece in pieces:
            if not piece:
                continue
            if count(piece) <= max_tokens:
                out.append(piece)
            else:
                out.extend(split_to_fit(piece, max_tokens, count, separators[position + 1 :]))
        return out
    return _hard_cut(text, max_tokens, count)


def _hard_cut(text: str, max_tokens: int, count: TokenCounter) -> list[str]:
    """No separator left (a very long URL, say): cut by characters."""
    step = max(1, len(text) * max_tokens // max(count(text), 1))
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + step)
        while end - start > 1 and count(text[start:end]) > max_tokens:
            end -= 1
        out.append(text[start:end])
        start = end
    return out


def sentences(text: str, max_tokens: int, count: TokenCounter = estimate_tokens) -> list[str]:
    """Sentence-sized units with their trailing whitespace, none longer than ``max_tokens``."""
    units: list[str] = []
    for unit in _SENTENCE_END.split(text):
        if unit:
            units.extend(split_to_fit(unit, max_tokens, count))
    return units


def pack(
    units: Iterable[str],
    max_tokens: int,
    overlap: int = 0,
    count: TokenCounter = estimate_tokens,
) -> list[str]:
    """Join consecutive units into windows of at most ``max_tokens``.

    Each window after the first starts with the last few units of the previous one, up to
    ``overlap`` tokens. Overlap is made of whole units (never half a sentence), so it can
    be shorter than asked for.
    """
    windows: list[str] = []
    current: list[str] = []
    for unit in units:
        if current and count("".join([*current, unit])) > max_tokens:
            windows.append("".join(current))
            tail: list[str] = []
            for previous in reversed(current):
                if count("".join([previous, *tail])) > overlap:
                    break
                tail.insert(0, previous)
            current = [*tail, unit]
            while len(current) > 1 and count("".join(current)) > max_tokens:
                current.pop(0)
        else:
            current.append(unit)
    if current:
        windows.append("".join(current))
    return [window.strip() for window in windows if window.strip()]


def chunk_text(
    text: str,
    max_tokens: int = 400,
    overlap: int = 50,
    count: TokenCounter = estimate_tokens,
) -> list[Chunk]:
    """Chunk plain text: sentences packed into windows of ``max_tokens`` with ``overlap``."""
    check_limits(max_tokens, overlap)
    windows = pack(sentences(text, max_tokens, count), max_tokens, overlap, count)
    return [Chunk(text=w, index=i, token_estimate=count(w)) for i, w in enumerate(windows)]
