"""Reading markdown's structure for chunking: blocks grouped by their heading path.

``markdown_sections`` turns cleaned markdown into ``Section``s: the heading path (ATX and setext
headings, emphasis markers dropped from names) and the section's blocks as ``Piece``s, first its
heading, then paragraphs, lists, tables and fenced code blocks (fences kept whole, found with the
cleaner's ``split_fenced``). Tables, headings and code are not prose: they lend no overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llm_twin.features.cleaning import split_fenced
from llm_twin.features.text_packing import Piece

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_SETEXT_TEXT = re.compile(r"^\s*(?:[-*+>|]|\d+[.)]\s|#)")


@dataclass
class Section:
    path: tuple[str, ...]
    pieces: list[Piece] = field(default_factory=list)
    headings_only: bool = True


def markdown_sections(markdown: str) -> list[Section]:
    """Blocks grouped by heading path; a section's first piece is its heading."""
    sections = [Section(())]
    stack: list[tuple[int, str]] = []
    paragraph: list[str] = []

    def add(piece: Piece) -> None:
        sections[-1].pieces.append(piece)
        sections[-1].headings_only = False

    def flush() -> None:
        if paragraph:
            table = all(line.lstrip().startswith("|") for line in paragraph)
            add(Piece("\n".join(paragraph), prose=not table))
            paragraph.clear()

    def open_section(level: int, name: str, text: str) -> None:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, name))
        sections.append(Section(tuple(n for _, n in stack if n), [Piece(text, prose=False)]))

    for is_code, run in split_fenced(markdown):
        if is_code:
            flush()
            add(Piece("\n".join(run), prose=False))
            continue
        for line in run:
            atx = _ATX.match(line)
            setext = _SETEXT.match(line)
            if not line.strip():
                flush()
            elif atx:
                flush()
                open_section(len(atx[1]), _heading_name(atx[2] or ""), line)
            elif setext and paragraph and not any(_NOT_SETEXT_TEXT.match(x) for x in paragraph):
                text, name = "\n".join([*paragraph, line]), _heading_name(" ".join(paragraph))
                paragraph.clear()
                open_section(1 if setext[1][0] == "=" else 2, name, text)
            else:
                paragraph.append(line)
        flush()
    return [section for section in sections if section.pieces]


def _heading_name(text: str) -> str:
    return " ".join(re.sub(r"\*\*|__|(?<!\w)[*_]|[*_](?!\w)", "", text).split())
