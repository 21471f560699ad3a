"""Documents → extracts: cleaned, paragraph-aligned passages of the author's writing, bounded in words.

An extract is what one training row answers with (the author's own words), so it must read as a whole:

- the document is cleaned (``clean_markdown``) and read as blocks (paragraphs, lists, tables, fenced
  code, headings) with ``markdown_sections``; blocks are never cut except when one block alone is
  longer than ``max_words`` (then by lines, sentences, words: ``split_text``);
- a document that fits in ``max_words`` is one extract; a longer one is packed greedily into as few
  extracts as fit, evened out (``pack_groups``), so a 900-word article gives three extracts
  of ~300 words rather than 400 + 400 + 100; extracts may cross headings (a heading opens a new block);
- extracts under the minimum are dropped (``too_short``): ``min_words`` for articles and repository
  prose, ``post_min_words`` for posts (a whole LinkedIn post of 40 words is a natural unit); a prose
  extract with under half the minimum outside fenced code is dropped too (``mostly_code``);
- repositories: markdown files (README, CHANGELOG, docs) are prose like articles; code files are
  skipped by default (``include_code=False``: a code file is not the author's prose and teaches a
  small model little), or with ``include_code=True`` a code file is one extract when it fits and is
  otherwise split at blank lines between top-level blocks, each part re-fenced.

Word counts are whitespace words, with a character guard (``MAX_CHARS_PER_WORD``) so a minified line
or a base64 blob cannot pass as one word. Deterministic: the same document always gives the same
extracts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_twin.domain.models import Category
from llm_twin.features.cleaning import clean_markdown, split_fenced
from llm_twin.features.code_packing import single_fence
from llm_twin.features.markdown_sections import markdown_sections
from llm_twin.features.text_packing import Piece, join_pieces, split_text
from llm_twin.warehouse.records import Document

MAX_CHARS_PER_WORD = 12  # a "word" longer than this counts as several (bounds characters too)
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".txt")
_WORD = re.compile(r"\S+")
_HEADING_LINE = re.compile(r"^\s{0,3}#{1,6}\s")


def count_words(text: str) -> int:
    """Whitespace words, or characters / MAX_CHARS_PER_WORD when that is more."""
    return max(len(_WORD.findall(text)), len(text) // MAX_CHARS_PER_WORD)


def prose_words(text: str) -> int:
    """Words outside fenced code blocks."""
    return sum(len(_WORD.findall("\n".join(lines))) for is_code, lines in split_fenced(text) if not is_code)


class ExtractConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_words: int = Field(120, ge=1, description="Shortest extract kept (articles, repository prose).")
    max_words: int = Field(400, ge=20, description="Longest extract; longer documents are packed.")
    post_min_words: int = Field(25, ge=1, description="Shortest post kept (a whole short post is one unit).")
    include_code: bool = Field(False, description="Repository code files as extracts (default: skipped).")

    @model_validator(mode="after")
    def _bounds(self) -> ExtractConfig:
        if self.min_words > self.max_words or self.post_min_words > self.max_words:
            raise ValueError("min_words and post_min_words must not exceed max_words")
        return self


@dataclass(frozen=True)
class Extract:
    """One passage of one document (``index`` counts the document's kept extracts from 0)."""

    document: Document
    index: int
    text: str
    section: str | None = None  # the heading path of its first block
    kind: str = "prose"  # "prose" or "code"

    @property
    def words(self) -> int:
        return count_words(self.text)

    @property
    def key(self) -> tuple[str, int]:
        return (self.document.document_id, self.index)


@dataclass
class ExtractReport:
    extracts: list[Extract] = field(default_factory=list)
    documents: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason → count (documents or extracts)

    def skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.skipped[reason] = self.skipped.get(reason, 0) + n


def is_code_file(document: Document) -> bool:
    if document.category is not Category.REPOSITORY:
        return False
    path = document.metadata.get("path", "").lower()
    return not (document.metadata.get("language") == "markdown" or path.endswith(MARKDOWN_SUFFIXES))


def pack_groups(sizes: list[int], limit: int) -> list[list[int]]:
    """Indexes of consecutive items grouped within ``limit`` (an oversized item stands alone): as few
    groups as greedy packing gives, evened out (the smallest limit that needs no more groups)."""

    def greedy(bound: int) -> list[list[int]]:
        groups: list[list[int]] = []
        total = 0
        for i, size in enumerate(sizes):
            if groups and total + size <= bound:
                groups[-1].append(i)
                total += size
            else:
                groups.append([i])
                total = size
        return groups

    groups = greedy(limit)
    if len(groups) > 1:
        low, high = max(1, -(-sum(sizes) // len(groups))), limit
        while low < high:
            middle = (low + high) // 2
            if len(greedy(middle)) <= len(groups):
                high = middle
            else:
                low = middle + 1
        groups = greedy(low)
    return groups


def _pieces(content: str, max_words: int) -> list[tuple[Piece, str | None]]:
    """The document's blocks in order with their section, oversized blocks split."""
    out: list[tuple[Piece, str | None]] = []
    for section in markdown_sections(content):
        name = " \u203a ".join(section.path) or None
        for piece in section.pieces:
            if count_words(piece.text) <= max_words:
                out.append((Piece(piece.text, "\n\n", prose=False), name))
                continue
            if not piece.prose:  # an oversized code block or table: split by lines, fences re-opened
                for part in _split_code_block(piece.text, max_words):
                    out.append((Piece(part, "\n\n", prose=False), name))
                continue
            for i, (sep, fragment) in enumerate(split_text(piece.text, max_words, count_words)):
                out.append((Piece(fragment, "\n\n" if i == 0 else (sep or " "), prose=False), name))
    return out


def _split_code_block(text: str, max_words: int) -> list[str]:
    """A fenced block (or a table) cut at line boundaries into fenced parts within ``max_words``."""
    fence = single_fence(text)
    if fence is None:
        return [fragment for _, fragment in split_text(text, max_words, count_words)]
    opening, body, closing = fence
    budget = max(1, max_words - count_words(opening) - count_words(closing))
    parts: list[str] = []
    current: list[str] = []
    for line in body:
        if current and count_words("\n".join([*current, line])) > budget:
            parts.append("\n".join([opening, *current, closing]))
            current = []
        current.append(line)
    if current:
        parts.append("\n".join([opening, *current, closing]))
    return parts


def _pack_prose(content: str, max_words: int) -> list[tuple[str, str | None]]:
    """Blocks packed into extracts of at most ``max_words``, each with its first block's section."""
    pieces = _pieces(content, max_words)
    out: list[tuple[str, str | None]] = []
    for group in pack_groups([count_words(p.text) for p, _ in pieces], max_words):
        out.append((join_pieces([pieces[i][0] for i in group]), pieces[group[0]][1]))
    return out


def _code_parts(content: str, max_words: int) -> list[str]:
    if count_words(content) <= max_words:
        return [content]
    fence = single_fence(content)
    if fence is None:
        return [text for text, _ in _pack_prose(content, max_words)]
    opening, body, closing = fence
    budget = max(1, max_words - count_words(opening) - count_words(closing))
    blocks: list[list[str]] = [[]]
    for line in body:  # blank lines before an unindented line separate top-level blocks
        if line and not line[0].isspace() and blocks[-1] and not blocks[-1][-1].strip():
            blocks.append([])
        blocks[-1].append(line)
    texts = ["\n".join(block).strip("\n") for block in blocks if "".join(block).strip()]
    parts: list[str] = []
    for group in pack_groups([count_words(t) for t in texts], budget):
        text = "\n\n".join(texts[i] for i in group)
        if count_words(text) > budget:
            parts.extend(_split_code_block("\n".join([opening, text, closing]), max_words))
        else:
            parts.append("\n".join([opening, text, closing]))
    return parts


def _trim(text: str) -> str:
    """Drop blank edges and a dangling heading at the end (a heading with nothing under it)."""
    lines = text.strip().split("\n")
    while len(lines) > 1 and (_HEADING_LINE.match(lines[-1]) or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()


def document_extracts(
    document: Document, config: ExtractConfig | None = None, report: ExtractReport | None = None
) -> list[Extract]:
    """The document's extracts in order; skipped ones are counted in ``report``."""
    config = config or ExtractConfig()
    report = report if report is not None else ExtractReport()
    code = is_code_file(document)
    if code and not config.include_code:
        report.skip("code_files")
        return []
    content = clean_markdown(document.content, document.category).strip()
    if not content:
        report.skip("empty_documents")
        return []
    if code:
        candidates: list[tuple[str, str | None]] = [(t, None) for t in _code_parts(content, config.max_words)]
    elif count_words(content) <= config.max_words:
        candidates = [(content, None)]
    else:
        candidates = _pack_prose(content, config.max_words)
    minimum = config.post_min_words if document.category is Category.POST else config.min_words
    extracts: list[Extract] = []
    for text, section in candidates:
        text = text.strip() if code else _trim(text)
        if count_words(text) < minimum:
            report.skip("too_short")
            continue
        if not code and prose_words(text) < minimum // 2:
            report.skip("mostly_code")
            continue
        kind = "code" if code else "prose"
        extracts.append(Extract(document, len(extracts), text, section, kind))
    return extracts


def extract_documents(documents: Iterable[Document], config: ExtractConfig | None = None) -> ExtractReport:
    """Extracts of many documents, ordered by (document id, extract index)."""
    config = config or ExtractConfig()
    report = ExtractReport()
    for document in sorted(documents, key=lambda d: d.document_id):
        report.documents += 1
        report.extracts.extend(document_extracts(document, config, report))
    return report
