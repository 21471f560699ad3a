"""Chunking warehouse documents for retrieval, always within the embedder's token bound.

- article: chunks never cross a section (heading path ``H1 \u203a H2 \u203a H3``); blocks (paragraphs, lists,
  tables, fenced code) are packed up to the bound, and consecutive chunks of one section share the
  previous chunk's last whole sentences (``overlap_tokens``). A fenced block is split only when it
  alone exceeds the bound: by definitions, then lines, every part re-fenced with its language. An
  oversized paragraph is split by lines, sentences, words, then (last resort) characters.
- post: whole when it fits, else like an article.
- repository (one file per document): markdown files like articles; code by top-level definition
  (``ast`` for Python, a decorator/def regex when it does not parse, blank-line blocks at brace depth
  0 for other languages), small definitions packed together, section ``path :: name``.

``embed_text`` = a context prefix (``"{title} — {section}\\n\\n"``) + ``text``, and
``counter.count(embed_text) <= max_tokens`` always: the prefix counts against the bound.

This module owns the public API, the per-category strategy and the prefixes; the mechanics live in
``markdown_sections`` (heading paths), ``text_packing`` (splitting and packing prose with overlap),
``code_structure`` (top-level definitions) and ``code_packing`` (fitting fenced code into a budget).
"""

from __future__ import annotations

from collections.abc import Iterable

from llm_twin.domain.models import Category
from llm_twin.features.cleaning import clean_markdown, fence_opening
from llm_twin.features.code_packing import code_groups, fence_parts, fenced, single_fence
from llm_twin.features.markdown_sections import markdown_sections
from llm_twin.features.models import Chunk, chunk_id
from llm_twin.features.text_packing import Count, Packer, Piece, cut, split_text
from llm_twin.features.tokens import TokenCounter, default_counter
from llm_twin.warehouse.records import Document

DEFAULT_OVERLAP_TOKENS = 40  # ~15% of the 254-token bound: usually one or two whole sentences
MAX_CHARS_PER_TOKEN = 16  # a chunk holds at most 16 characters per token of the bound (~4 KB)
PREFIX_MAX_TOKENS = 48  # an absurd title is cut rather than crowding out the text
SECTION_SEPARATOR = " \u203a "  # single right-pointing angle quotation mark
CODE_SEPARATOR = " :: "
TITLE_SEPARATOR = " — "
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")
Part = tuple[str | None, str, str]  # (section, text, embed_text)


# --- public API ----------------------------------------------------------------------------------
def chunk_document(
    document: Document,
    counter: TokenCounter,
    *,
    max_tokens: int | None = None,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    clean: bool = True,
) -> list[Chunk]:
    """The document's chunks in order (its content cleaned first unless ``clean=False``).

    Deterministic; every chunk's ``embed_text`` is within ``max_tokens`` (default and ceiling:
    ``counter.max_tokens``, the embedder's truncation bound)."""
    bound = counter.max_tokens if max_tokens is None else max_tokens
    if not 16 <= bound <= counter.max_tokens:
        raise ValueError(f"max_tokens must be within 16..{counter.max_tokens} (the embedder truncates)")
    if not 0 <= overlap_tokens < bound // 2:
        raise ValueError("overlap_tokens must be at least 0 and under half of max_tokens")
    content = clean_markdown(document.content, document.category) if clean else document.content
    parts = _Chunker(counter.count, bound, overlap_tokens, document).chunk(content)
    return [
        Chunk(
            chunk_id=chunk_id(document.document_id, index),
            document_id=document.document_id,
            chunk_index=index,
            author_id=document.author_id,
            author_name=document.author_name,
            platform=document.platform,
            category=document.category,
            link=document.link,
            title=document.title,
            section=section,
            text=text,
            embed_text=embed_text,
            content_hash=document.content_hash,
            published_at=document.published_at,
        )
        for index, (section, text, embed_text) in enumerate(parts)
    ]


def chunk_documents(
    documents: Iterable[Document],
    counter: TokenCounter | None = None,
    *,
    max_tokens: int | None = None,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> list[Chunk]:
    """Chunks of many documents, in order (default counter: all-MiniLM-L6-v2's, shared)."""
    counter = counter or default_counter()
    return [
        chunk
        for document in documents
        for chunk in chunk_document(document, counter, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    ]


# --- the chunker ------------------------------------------------------------------------------------
class _Chunker:
    """One document's chunking: picks the strategy for its category and builds each chunk's prefix."""

    def __init__(self, count: Count, max_tokens: int, overlap: int, document: Document) -> None:
        self.tokens = count
        self.max_tokens = max_tokens
        self.packer = Packer(self.count, max_tokens, overlap)
        self.category = document.category
        self.path = document.metadata.get("path", "") if document.category is Category.REPOSITORY else ""
        self.head = (document.metadata.get("repo") if self.path else None) or document.title
        self.is_markdown_file = document.metadata.get("language") == "markdown" or self.path.lower().endswith(
            MARKDOWN_SUFFIXES
        )

    def count(self, text: str) -> int:
        """Tokens, or characters / MAX_CHARS_PER_TOKEN when more: a long run the tokenizer maps to a
        single [UNK] (a 100 KB word) must not become one giant chunk."""
        return max(self.tokens(text), len(text) // MAX_CHARS_PER_TOKEN)

    def chunk(self, content: str) -> list[Part]:
        if not content.strip():
            return []
        if self.category is Category.POST:
            prefix = self.prefix(None, content)
            if self.count(prefix + content) <= self.max_tokens:
                return [(None, content, prefix + content)]
        if self.category is Category.REPOSITORY and not self.is_markdown_file:
            fence = single_fence(content)
            if fence is not None:
                return self.code_file(*fence)
        return self.markdown(content)

    def markdown(self, content: str) -> list[Part]:
        out: list[Part] = []
        carried: list[Piece] = []
        sections = markdown_sections(content)
        for position, section in enumerate(sections):
            following = sections[position + 1].path if position + 1 < len(sections) else ()
            depth = len(section.path)
            if section.headings_only and len(following) > depth and following[:depth] == section.path:
                carried.extend(section.pieces)  # an empty parent heading opens its first child's chunk
                continue
            name = self.section_name(SECTION_SEPARATOR.join(section.path))
            prefix = self.prefix(name, content)
            budget = self.max_tokens - self.count(prefix)
            pieces = [*carried, *section.pieces]
            carried = []
            fitted = [part for piece in pieces for part in self.fit(piece, budget)]
            out.extend((name, text, prefix + text) for text in self.packer.pack(fitted, prefix))
        return out

    def code_file(self, fence: str, body: list[str], close: str) -> list[Part]:
        # Budget for the longest prefix a chunk can get, so any definition names fit in front.
        budget = self.max_tokens - min(PREFIX_MAX_TOKENS, self.max_tokens // 4)
        out: list[Part] = []
        for names, lines in code_groups(self.count, fence, body, close, budget):
            name = self.section_name(", ".join(names[:3]) + (", …" if len(names) > 3 else ""))
            text = fenced(fence, lines, close)
            out.append((name, text, self.prefix(name, "") + text))
        return out

    # --- names and prefixes ------------------------------------------------------------------------
    def section_name(self, inner: str) -> str | None:
        if self.path:
            return f"{self.path}{CODE_SEPARATOR}{inner}" if inner else self.path
        return inner or None

    def prefix(self, section: str | None, content: str) -> str:
        """``"{title} — {section}\\n\\n"``. The title is left out when it is the content's first line
        (LinkedIn titles are the post's first line, cut with "…") and cut when absurdly long."""
        cap = min(PREFIX_MAX_TOKENS, self.max_tokens // 4)
        title = " ".join(self.head.split())
        first_line = " ".join(content.lstrip().split("\n", 1)[0].split())
        stem = title.removesuffix("…").rstrip()
        if title and (first_line == title or (stem != title and first_line.startswith(stem))):
            title = ""
        if section:
            title = self.truncate(title, cap // 2)
        head = self.truncate(TITLE_SEPARATOR.join(part for part in (title, section) if part), cap)
        return f"{head}\n\n" if head else ""

    def truncate(self, text: str, cap: int) -> str:
        if self.count(text) <= cap:
            return text
        words = text.split(" ")
        low, high = 0, len(words)  # the most words whose text + "…" fits
        while low < high:
            middle = (low + high + 1) // 2
            if self.count(" ".join(words[:middle]) + "…") <= cap:
                low = middle
            else:
                high = middle - 1
        if low:
            return " ".join(words[:low]) + "…"
        return cut(text, cap - 1, self.count) + "…" if cap > 1 else ""

    # --- fitting one block under a budget ------------------------------------------------------------
    def fit(self, piece: Piece, budget: int) -> list[Piece]:
        """``piece`` itself when it fits; else its parts, each within ``budget``."""
        if self.count(piece.text) <= budget:
            return [piece]
        lines = piece.text.split("\n")
        marker = fence_opening(lines[0])
        if marker is None:
            fragments = split_text(piece.text, budget, self.count)
            return [
                Piece(text, piece.sep if i == 0 else sep, piece.prose)
                for i, (sep, text) in enumerate(fragments)
            ]
        fence, body, close = fence_parts(lines, marker)
        parts = [
            fenced(fence, group, close) for _, group in code_groups(self.count, fence, body, close, budget)
        ]
        return [Piece(part, piece.sep if i == 0 else "\n\n", prose=False) for i, part in enumerate(parts)]
