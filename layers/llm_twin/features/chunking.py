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
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from llm_twin.domain.models import Category
from llm_twin.features.cleaning import (
    clean_markdown,
    fence_closes,
    fence_language,
    fence_opening,
    split_fenced,
)
from llm_twin.features.models import Chunk, chunk_id
from llm_twin.features.tokens import TokenCounter, default_counter
from llm_twin.warehouse.records import Document

DEFAULT_OVERLAP_TOKENS = 40  # ~15% of the 254-token bound: usually one or two whole sentences
MAX_CHARS_PER_TOKEN = 16  # a chunk holds at most 16 characters per token of the bound (~4 KB)
PREFIX_MAX_TOKENS = 48  # an absurd title is cut rather than crowding out the text
SECTION_SEPARATOR = " \u203a "  # single right-pointing angle quotation mark
CODE_SEPARATOR = " :: "
TITLE_SEPARATOR = " — "
MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")
PYTHON_LANGUAGES = frozenset({"python", "py", "python3", "pyi", "sage"})

Count = Callable[[str], int]
Part = tuple[str | None, str, str]  # (section, text, embed_text)

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_NOT_SETEXT_TEXT = re.compile(r"^\s*(?:[-*+>|]|\d+[.)]\s|#)")
_SENTENCE_END = re.compile("[.!?\u2026][\"'\u201d\u2019)\\]*_]*(?=\\s)")
_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Piece:
    text: str
    sep: str = "\n\n"  # joins it to the previous piece of the same chunk
    prose: bool = True  # may lend its last sentences as overlap


@dataclass
class _Section:
    path: tuple[str, ...]
    pieces: list[_Piece] = field(default_factory=list)
    headings_only: bool = True


@dataclass(frozen=True)
class _Segment:
    """Lines ``[start, end)`` of a code body: one definition, or the statements between them."""

    names: tuple[str, ...]
    start: int
    end: int
    children: tuple[_Segment, ...] = ()
    definition: bool = True  # a def/class (or a block), not the statements between them


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
    def __init__(self, count: Count, max_tokens: int, overlap: int, document: Document) -> None:
        self.tokens = count
        self.max_tokens = max_tokens
        self.overlap = overlap
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
            fenced = _single_fence(content)
            if fenced is not None:
                return self.code_file(*fenced)
        return self.markdown(content)

    def markdown(self, content: str) -> list[Part]:
        out: list[Part] = []
        carried: list[_Piece] = []
        sections = _sections(content)
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
            out.extend((name, text, prefix + text) for text in self.pack(fitted, prefix))
        return out

    def code_file(self, fence: str, body: list[str], close: str) -> list[Part]:
        # Budget for the longest prefix a chunk can get, so any definition names fit in front.
        budget = self.max_tokens - min(PREFIX_MAX_TOKENS, self.max_tokens // 4)
        out: list[Part] = []
        segments = _segments(body, fence_language(fence))
        for names, lines in self.code_groups(body, segments, fence, close, budget):
            name = self.section_name(", ".join(names[:3]) + (", …" if len(names) > 3 else ""))
            text = _fenced(fence, lines, close)
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
        return _cut(text, cap - 1, self.count) + "…" if cap > 1 else ""

    # --- fitting one block under a budget ------------------------------------------------------------
    def fit(self, piece: _Piece, budget: int) -> list[_Piece]:
        """``piece`` itself when it fits; else its parts, each within ``budget``."""
        if self.count(piece.text) <= budget:
            return [piece]
        lines = piece.text.split("\n")
        marker = fence_opening(lines[0])
        if marker is None:
            fragments = self.split_text(piece.text, budget, 0)
            return [
                _Piece(text, piece.sep if i == 0 else sep, piece.prose)
                for i, (sep, text) in enumerate(fragments)
            ]
        closed = len(lines) > 1 and fence_closes(lines[-1], marker)
        body, close = (lines[1:-1], lines[-1]) if closed else (lines[1:], marker)
        groups = self.code_groups(body, _segments(body, fence_language(lines[0])), lines[0], close, budget)
        parts = [_fenced(lines[0], group, close) for _, group in groups]
        return [_Piece(part, piece.sep if i == 0 else "\n\n", prose=False) for i, part in enumerate(parts)]

    def split_text(self, text: str, budget: int, level: int) -> list[tuple[str, str]]:
        """``(separator before, fragment)`` pairs: by lines, sentences, words, then characters."""
        if self.count(text) <= budget:
            return [("", text)]
        if level >= 3:
            return [("", part) for part in _hard_split(text, budget, self.count)]
        parts = _split_once(text, level)
        if len(parts) == 1:
            return self.split_text(parts[0][1], budget, level + 1)
        out: list[tuple[str, str]] = []
        for sep, part in parts:
            sub = self.split_text(part, budget, level + 1)
            out.append((sep, sub[0][1]))
            out.extend(sub[1:])
        return out

    def code_groups(
        self, body: list[str], segments: list[_Segment], fence: str, close: str, budget: int
    ) -> list[tuple[list[str], list[str]]]:
        """Segments packed into ``(names, lines)`` groups whose fenced text fits ``budget``, as even
        as possible. A segment too big alone is split into its children (a class's methods), else
        into runs of lines; those parts stay on their own."""
        inner = budget - self.count(f"{fence}\n{close}")
        if inner < 1:
            raise ValueError("max_tokens is too small for a fenced code block")
        groups: list[tuple[list[str], list[str]]] = []
        run: list[_Segment] = []

        def flush() -> None:
            sizes = [self.count("\n".join(body[seg.start : seg.end])) for seg in run]
            for first, last in _balanced(sizes, inner):
                members = run[first:last]
                lines = body[members[0].start : members[-1].end]
                names = [n for seg in members if seg.definition for n in seg.names]
                names += [n for seg in members if not seg.definition for n in seg.names]
                if self.count("\n".join(lines)) <= inner:
                    groups.append((list(dict.fromkeys(names)), lines))
                else:  # a counter that is not additive over newlines: one segment at a time
                    groups.extend((list(seg.names), body[seg.start : seg.end]) for seg in members)
            run.clear()

        for segment in self.flatten(segments, body, inner):
            lines = body[segment.start : segment.end]
            if self.count("\n".join(lines)) <= inner:
                run.append(segment)
                continue
            flush()
            groups.extend((list(segment.names), part) for part in self.split_lines(lines, inner))
        flush()
        return [(names, _trim_blank(lines)) for names, lines in groups if any(x.strip() for x in lines)]

    def flatten(self, segments: Iterable[_Segment], body: list[str], inner: int) -> list[_Segment]:
        out: list[_Segment] = []
        for segment in segments:
            if segment.children and self.count("\n".join(body[segment.start : segment.end])) > inner:
                out.extend(self.flatten(segment.children, body, inner))
            else:
                out.append(segment)
        return out

    def split_lines(self, lines: list[str], inner: int) -> list[list[str]]:
        """Runs of whole lines within ``inner`` tokens, as even as possible (a line too long alone is
        cut into pieces by characters)."""
        units: list[str] = []
        for line in lines:
            units.extend([line] if self.count(line) <= inner else _hard_split(line, inner, self.count))
        parts = [units[a:b] for a, b in _balanced([self.count(u) for u in units], inner)]
        if all(self.count("\n".join(part)) <= inner for part in parts):
            return parts
        exact: list[list[str]] = []  # a counter that is not additive over newlines
        for unit in units:
            if exact and self.count("\n".join([*exact[-1], unit])) <= inner:
                exact[-1].append(unit)
            else:
                exact.append([unit])
        return exact

    # --- packing with overlap ------------------------------------------------------------------------
    def pack(self, pieces: list[_Piece], prefix: str) -> list[str]:
        """Pieces packed into chunks that fit with ``prefix``: as few as greedy packing gives, then
        evened out (the smallest size limit that needs no more chunks). A chunk after the first
        starts with the previous chunk's last sentences when they are prose and leave room."""
        budget = self.max_tokens - self.count(prefix)
        chunks = self.pack_greedy(pieces, budget)
        if len(chunks) > 1:
            low = max(1, -(-sum(self.count(piece.text) for piece in pieces) // len(chunks)))
            high = budget
            while low < high:
                middle = (low + high) // 2
                if len(self.pack_greedy(pieces, middle)) <= len(chunks):
                    high = middle
                else:
                    low = middle + 1
            chunks = self.pack_greedy(pieces, low)
        texts = [_join(chunk) for chunk in chunks]
        if any(self.count(prefix + text) > self.max_tokens for text in texts):
            texts = [_join(chunk) for chunk in self.pack_exact(pieces, prefix)]
        return [text for text in texts if text.strip()]

    def pack_greedy(self, pieces: list[_Piece], limit: int) -> list[list[_Piece]]:
        """Greedy packing on summed piece counts (exact for WordPiece: pieces join at whitespace)."""
        chunks: list[list[_Piece]] = []
        current: list[_Piece] = []
        size = 0
        for piece in pieces:
            tokens = self.count(piece.text)
            if current and size + tokens <= limit:
                current.append(piece)
                size += tokens
                continue
            if current:
                chunks.append(current)
                tail = self.tail(current)
                if tail is not None and self.count(tail.text) + tokens <= limit:
                    current, size = [tail, piece], self.count(tail.text) + tokens
                    continue
            current, size = [piece], tokens
        if current:
            chunks.append(current)
        return chunks

    def pack_exact(self, pieces: list[_Piece], prefix: str) -> list[list[_Piece]]:
        """Greedy packing that counts every candidate chunk (for counters that are not additive)."""
        chunks: list[list[_Piece]] = []
        current: list[_Piece] = []
        for piece in pieces:
            if current and self.fits([*current, piece], prefix):
                current.append(piece)
                continue
            if current:
                chunks.append(current)
                tail = self.tail(current)
                if tail is not None and self.fits([tail, piece], prefix):
                    current = [tail, piece]
                    continue
            current = [piece]
        if current:
            chunks.append(current)
        return chunks

    def fits(self, pieces: list[_Piece], prefix: str) -> bool:
        return self.count(prefix + _join(pieces)) <= self.max_tokens

    def tail(self, chunk: list[_Piece]) -> _Piece | None:
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
        if not chosen.strip() or chosen.strip() == _join(chunk).strip():
            return None
        return _Piece(chosen, "", prose=True)


# --- markdown structure ------------------------------------------------------------------------------
def _sections(markdown: str) -> list[_Section]:
    """Blocks grouped by heading path; a section's first piece is its heading."""
    sections = [_Section(())]
    stack: list[tuple[int, str]] = []
    paragraph: list[str] = []

    def add(piece: _Piece) -> None:
        sections[-1].pieces.append(piece)
        sections[-1].headings_only = False

    def flush() -> None:
        if paragraph:
            table = all(line.lstrip().startswith("|") for line in paragraph)
            add(_Piece("\n".join(paragraph), prose=not table))
            paragraph.clear()

    def open_section(level: int, name: str, text: str) -> None:
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, name))
        sections.append(_Section(tuple(n for _, n in stack if n), [_Piece(text, prose=False)]))

    for is_code, run in split_fenced(markdown):
        if is_code:
            flush()
            add(_Piece("\n".join(run), prose=False))
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


def _single_fence(content: str) -> tuple[str, list[str], str] | None:
    """(opening fence line, body lines, closing line) when the content is one fenced block."""
    runs = [(code, run) for code, run in split_fenced(content) if code or any(x.strip() for x in run)]
    if len(runs) != 1 or not runs[0][0]:
        return None
    lines = runs[0][1]
    marker = fence_opening(lines[0]) or "```"
    if len(lines) > 1 and fence_closes(lines[-1], marker):
        return lines[0], lines[1:-1], lines[-1]
    return lines[0], lines[1:], marker


def _fenced(fence: str, lines: list[str], close: str) -> str:
    return "\n".join([fence, *lines, close])


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _balanced(sizes: list[int], limit: int) -> list[tuple[int, int]]:
    """Contiguous groups ``[first, last)`` of items whose sizes sum within ``limit`` (an item over
    it stands alone): as many groups as greedy packing needs, with the smallest largest group."""

    def greedy(cap: int) -> list[tuple[int, int]]:
        groups: list[tuple[int, int]] = []
        first, total = 0, 0
        for index, size in enumerate(sizes):
            if index > first and total + size > cap:
                groups.append((first, index))
                first, total = index, 0
            total += size
        return [*groups, (first, len(sizes))] if sizes else []

    fewest = greedy(limit)
    if len(fewest) <= 1:
        return fewest
    low, high = max(1, -(-sum(sizes) // len(fewest))), limit
    while low < high:
        middle = (low + high) // 2
        if len(greedy(middle)) <= len(fewest):
            high = middle
        else:
            low = middle + 1
    return greedy(low)


def _join(pieces: list[_Piece]) -> str:
    return "".join((piece.sep if i else "") + piece.text for i, piece in enumerate(pieces))


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


def _hard_split(text: str, budget: int, count: Count) -> list[str]:
    parts: list[str] = []
    while text:
        part = _cut(text, budget, count)
        parts.append(part)
        text = text[len(part) :]
    return parts


def _cut(text: str, budget: int, count: Count) -> str:
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


# --- code structure ----------------------------------------------------------------------------------
_PY_BOUNDARY = re.compile(r"^(?:@|(?:async[ \t]+)?def[ \t]|class[ \t])")
_DECLARATION = re.compile(
    r"^(?:(?:export|default|pub(?:\([^)]*\))?|public|private|protected|internal|static|abstract|final"
    r"|async|unsafe|extern|inline|virtual|override|open|sealed|data)\s+)*"
    r"(?:def|class|function\*?|fn|func|interface|struct|enum|trait|impl|type|module|object|namespace"
    r"|const|let|var|val|macro_rules!|resource|variable|output|data|locals|provider)\s+"
    r"(?:\([^)]*\)\s*)?[\"']?([A-Za-z_$][\w$.:<>\"-]*)"
)
_COMMENT = re.compile(r"^#(?!include|import)")
_IMPORT = re.compile(r"^(?:import|from|use|using|package|require|#include|#import)\b")
_TABLE = re.compile(r"^\[\[?\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"^([A-Za-z_.$][\w.$/%-]*)\s*(?::(?!:)|=|\+=|\?=)")


def _segments(lines: list[str], language: str) -> list[_Segment]:
    if language.lower() in PYTHON_LANGUAGES:
        try:
            tree = ast.parse("\n".join(lines))
        except (SyntaxError, ValueError):
            return _boundary_segments(lines, _python_boundaries(lines))
        return _ast_segments(tree.body, lines, 0, len(lines), "")
    return _boundary_segments(lines, _block_boundaries(lines))


def _ast_segments(
    nodes: list[ast.stmt], lines: list[str], start: int, end: int, owner: str
) -> list[_Segment]:
    """Each def/class its own segment (with its decorators and the comments right above it); the
    statements between definitions grouped; the first segment starts at ``start`` (headers)."""
    firsts: list[int] = []
    for index, node in enumerate(nodes):
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        floor = max(start, nodes[index - 1].end_lineno or 0) if index else start
        while first - 1 >= floor and lines[first - 1].lstrip().startswith("#"):
            first -= 1
        firsts.append(first)
    if firsts:
        firsts[0] = start
    out: list[_Segment] = []
    group: list[str] | None = None  # names of the open statement group, if the last segment is one
    for index, node in enumerate(nodes):
        seg_start, seg_end = firsts[index], firsts[index + 1] if index + 1 < len(nodes) else end
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{owner}.{node.name}" if owner else node.name
            children: tuple[_Segment, ...] = ()
            if isinstance(node, ast.ClassDef):
                children = tuple(_ast_segments(node.body, lines, seg_start, seg_end, name))
            out.append(_Segment((name,), seg_start, seg_end, children))
            group = None
            continue
        names = [owner] if owner else _statement_names(node)
        if group is None:
            group = []
            out.append(_Segment((), seg_start, seg_end))
        group.extend(name for name in names if name not in group)
        out[-1] = _Segment(tuple(group) or (owner or "module",), out[-1].start, seg_end, definition=False)
    return out


def _statement_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return ["imports"]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return [target.id for target in targets if isinstance(target, ast.Name)]


def _python_boundaries(lines: list[str]) -> list[int]:
    """Column-0 ``def``/``class``/decorator lines (a decorated def starts at its first decorator)."""
    found: list[int] = []
    for index, line in enumerate(lines):
        if _PY_BOUNDARY.match(line) and not (index and lines[index - 1].startswith("@")):
            found.append(index)
    return found


def _block_boundaries(lines: list[str]) -> list[int]:
    """Column-0 lines after a blank line while brackets are balanced (top-level blocks)."""
    found: list[int] = []
    depth = 0
    for index, line in enumerate(lines):
        if (
            index
            and depth == 0
            and line[:1] not in ("", " ", "\t", "}", ")", "]")
            and not lines[index - 1].strip()
        ):
            found.append(index)
        code = line.split("//", 1)[0] if "//" in line and "://" not in line else line
        opened = code.count("{") + code.count("(") + code.count("[")
        closed = code.count("}") + code.count(")") + code.count("]")
        depth = max(0, depth + opened - closed)
    return found


def _boundary_segments(lines: list[str], boundaries: list[int]) -> list[_Segment]:
    starts = sorted({0, *boundaries})
    ends = [*starts[1:], len(lines)]
    return [
        _Segment((_block_name(lines[start:end], start),), start, end)
        for start, end in zip(starts, ends, strict=True)
    ]


def _block_name(lines: list[str], start: int) -> str:
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith(("//", "/*", "*", "--", ";", "@")) or _COMMENT.match(stripped):
            continue
        if _IMPORT.match(stripped):
            return "imports"
        for pattern in (_DECLARATION, _TABLE, _KEY):
            match = pattern.match(stripped)
            if match:
                return match.group(1).strip("\"'")
        break
    return f"lines {start + 1}-{start + len(lines)}"
