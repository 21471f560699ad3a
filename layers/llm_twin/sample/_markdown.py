"""A small markdown-to-HTML renderer for the sample corpus.

It covers exactly the subset the corpus uses: ``##``/``###`` headings, paragraphs, ``-`` and ``1.``
lists, ``>`` quotes, fenced code with a language, and inline code, bold, italics and links. Code is
escaped and kept byte for byte (tabs included), so a crawler's markdown round trip can be checked
against the source.
"""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")
_BULLET = re.compile(r"^[-*]\s+")
_NUMBERED = re.compile(r"^\d+\.\s+")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?![\s*])(.+?)(?<![\s*])\*(?![*\w])")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def slugify(text: str) -> str:
    """The anchor id a static-site generator gives a heading."""
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[\s]+", "-", text.strip())


def inline(text: str) -> str:
    """Render inline markdown (code spans, links, bold, italics) to escaped HTML."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(f"<code>{html.escape(match.group(1), quote=False)}</code>")
        return f"\x00{len(spans) - 1}\x00"

    out = html.escape(_CODE_SPAN.sub(keep, text), quote=False)
    out = _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return _PLACEHOLDER.sub(lambda m: spans[int(m.group(1))], out)


def _is_block_start(line: str) -> bool:
    return bool(
        line.startswith("```")
        or _HEADING.match(line)
        or _BULLET.match(line)
        or _NUMBERED.match(line)
        or line.startswith(">")
    )


def to_html(markdown: str, *, heading_ids: bool = False) -> str:
    """Render markdown to an HTML fragment (one block per line)."""
    lines = markdown.replace("\r\n", "\n").split("\n")
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("```"):
            language = line[3:].strip()
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence
            code = html.escape("\n".join(body) + "\n", quote=False)
            attr = f' class="language-{html.escape(language)}"' if language else ""
            blocks.append(f"<pre><code{attr}>{code}</code></pre>")
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            content = inline(heading.group(2))
            anchor = f' id="{slugify(content)}"' if heading_ids else ""
            blocks.append(f"<h{level}{anchor}>{content}</h{level}>")
            i += 1
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            if pattern.match(line):
                items: list[str] = []
                while i < len(lines) and (
                    pattern.match(lines[i]) or (items and lines[i].startswith("  ") and lines[i].strip())
                ):
                    if pattern.match(lines[i]):
                        items.append(pattern.sub("", lines[i], count=1))
                    else:
                        items[-1] += " " + lines[i].strip()
                    i += 1
                rendered = "".join(f"<li>{inline(item)}</li>" for item in items)
                blocks.append(f"<{tag}>{rendered}</{tag}>")
                break
        else:
            if line.startswith(">"):
                quoted: list[str] = []
                while i < len(lines) and lines[i].startswith(">"):
                    quoted.append(lines[i].lstrip(">").strip())
                    i += 1
                blocks.append(f"<blockquote><p>{inline(' '.join(quoted))}</p></blockquote>")
                continue
            paragraph: list[str] = []
            while i < len(lines) and lines[i].strip() and not (paragraph and _is_block_start(lines[i])):
                paragraph.append(lines[i].strip())
                i += 1
            blocks.append(f"<p>{inline(' '.join(paragraph))}</p>")
    return "\n".join(blocks)


def plain_words(markdown: str) -> int:
    """Words in a markdown document, code included (what a reader scrolls past)."""
    return len(re.findall(r"\S+", markdown))
