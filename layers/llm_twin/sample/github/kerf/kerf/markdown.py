"""Markdown-aware chunking: headings first, atomic code blocks and tables, then token windows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .split import check_limits, pack, sentences, split_to_fit
from .tokens import TokenCounter, estimate_tokens
from .types import Chunk

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})")


@dataclass
class Block:
    kind: str  # "text", "code" or "table"
    text: str


@dataclass
class Section:
    heading_path: tuple[str, ...]
    blocks: list[Block] = field(default_factory=list)


def parse_sections(markdown: str) -> list[Section]:
    """Group a markdown document into sections, each with the path of headings above it."""
    sections = [Section(heading_path=())]
    stack: list[tuple[int, str]] = []
    paragraph: list[str] = []
    fence: list[str] = []
    fence_marker = ""
    table: list[str] = []

    def flush() -> None:
        if paragraph:
            sections[-1].blocks.append(Block("text", "\n".join(paragraph)))
            paragraph.clear()
        if table:
            sections[-1].blocks.append(Block("table", "\n".join(table)))
            table.clear()

    for line in markdown.splitlines():
        if fence:
            fence.append(line)
            if line.strip().startswith(fence_marker):
                sections[-1].blocks.append(Block("code", "\n".join(fence)))
                fence.clear()
            continue
        opening = _FENCE.match(line.strip())
        heading = _HEADING.match(line)
        if opening:
            flush()
            fence_marker = opening.group(1)
            fence.append(line)
        elif heading:
            flush()
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.group(2)))
            sections.append(Section(heading_path=tuple(title for _, title in stack)))
        elif line.lstrip().startswith("|"):
            if paragraph:
                flush()
            table.append(line)
        elif not line.strip():
            flush()
        else:
            if table:
                flush()
            paragraph.append(line)
    if fence:  # an unclosed fence runs to the end of the document, as in CommonMark
        sections[-1].blocks.append(Block("code", "\n".join(fence)))
    flush()
    return [section for section in sections if section.blocks]


def _split_code(block: str, max_tokens: int, count: TokenCounter) -> list[str]:
    """A code block too big for one chunk is split by lines, and every part is re-fenced."""
    lines = block.split("\n")
    opening, closing = lines[0], lines[-1] if len(lines) > 1 else "```"
    body = "\n".join(lines[1:-1]) + "\n"
    budget = max(1, max_tokens - count(opening + "\n" + closing))
    parts = split_to_fit(body, budget, count, separators=("\n",))
    return [f"{opening}\n{part.rstrip(chr(10))}\n{closing}" for part in parts if part.strip()]


def chunk_markdown(
    markdown: str,
    max_tokens: int = 400,
    overlap: int = 50,
    count: TokenCounter = estimate_tokens,
) -> list[Chunk]:
    """Chunk a markdown document.

    Sections never share a chunk. Code blocks and tables are never split unless one alone is
    over ``max_tokens``. Prose is packed sentence by sentence with ``overlap``.
    """
    check_limits(max_tokens, overlap)
    chunks: list[Chunk] = []
    for section in parse_sections(markdown):
        units: list[str] = []
        for block in section.blocks:
            if block.kind == "text":
                units.extend(sentences(block.text + "\n\n", max_tokens, count))
            elif count(block.text) <= max_tokens:
                units.append(block.text + "\n\n")
            elif block.kind == "code":
                units.extend(part + "\n\n" for part in _split_code(block.text, max_tokens, count))
            else:
                rows = split_to_fit(block.text + "\n\n", max_tokens, count, separators=("\n",))
                units.extend(rows)
        for window in pack(units, max_tokens, overlap, count):
            chunks.append(
                Chunk(
                    text=window,
                    index=len(chunks),
                    heading_path=section.heading_path,
                    token_estimate=count(window),
                )
            )
    return chunks
