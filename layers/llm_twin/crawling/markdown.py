"""HTML element → markdown (markdownify), markdown normalisation and byte-bounded truncation."""

from __future__ import annotations

import re
from typing import Any

from bs4 import Tag
from markdownify import ATX, MarkdownConverter

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LANGUAGE_CLASS = re.compile(r"^(?:language|lang|highlight-source|highlight)-([\w+#.-]+)$", re.I)
_BACKTICK_RUN = re.compile(r"`{3,}")
_BLANK_RUN = re.compile(r"\n{3,}")


def code_language(el: Tag) -> str:
    """Language of a <pre> block from ``class="language-x"`` on it or on its <code>."""
    candidates = [el]
    code = el.find("code")
    if isinstance(code, Tag):
        candidates.append(code)
    for node in candidates:
        classes = node.get("class") or []
        if isinstance(classes, str):
            classes = classes.split()
        for cls in classes:
            match = _LANGUAGE_CLASS.match(cls)
            if match:
                return match.group(1).lower()
        data_lang = node.get("data-lang") or node.get("data-language")
        if isinstance(data_lang, str) and re.fullmatch(r"[\w+#.-]{1,30}", data_lang):
            return data_lang.lower()
    return ""


def fenced(code: str, language: str = "") -> str:
    """A fenced code block holding ``code`` unchanged (the fence outgrows any backtick run inside)."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(code)), default=2)
    fence = "`" * max(3, longest + 1)
    body = code[:-1] if code.endswith("\n") else code
    return f"{fence}{language}\n{body}\n{fence}"


class _Converter(MarkdownConverter):
    def convert_pre(self, el: Tag, text: str, parent_tags: Any) -> str:
        code = el.get_text()
        if code.startswith("\n"):  # HTML ignores a newline right after <pre>
            code = code[1:]
        if not code.strip():
            return ""
        return f"\n\n{fenced(code, code_language(el))}\n\n"

    def convert_img(self, el: Tag, text: str, parent_tags: Any) -> str:
        return ""

    def convert_a(self, el: Tag, text: str, parent_tags: Any) -> str:
        href = el.get("href")
        if not isinstance(href, str) or not href.startswith(("http://", "https://", "mailto:", "#")):
            return text
        return super().convert_a(el, text, parent_tags)


_CONVERTER = _Converter(
    heading_style=ATX,
    bullets="-",
    escape_asterisks=False,
    escape_underscores=False,
    escape_misc=False,
    code_language_callback=code_language,
)


def to_markdown(el: Tag) -> str:
    """Convert one element (may raise RecursionError on trees deeper than ~300 levels)."""
    return normalize_markdown(_CONVERTER.process_tag(el, parent_tags=set()))


def normalize_markdown(text: str) -> str:
    """Strip trailing spaces and collapse blank-line runs outside fenced code; code stays byte-for-byte."""
    segments: list[str] = []
    prose: list[str] = []
    code: list[str] = []
    fence: str | None = None

    def flush_prose() -> None:
        block = _BLANK_RUN.sub("\n\n", "\n".join(line.rstrip() for line in prose)).strip("\n")
        if block.strip():
            segments.append(block)
        prose.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        match = _FENCE.match(line)
        if fence is None:
            if match:
                flush_prose()
                fence = match.group(1)
                code.append(line)
            else:
                prose.append(line)
            continue
        code.append(line)
        run = match.group(1) if match else ""
        if run and run[0] == fence[0] and len(run) >= len(fence) and not line.strip()[len(run) :].strip():
            segments.append("\n".join(code))
            code.clear()
            fence = None
    flush_prose()
    if code:  # an unclosed fence (e.g. cut by truncation): keep it as is
        segments.append("\n".join(code))
    return "\n\n".join(segments) + "\n" if segments else ""


def truncate_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    """At most ``max_bytes`` UTF-8 bytes of ``text``, cut on a character boundary; (text, truncated)."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[:max_bytes].decode("utf-8", errors="ignore"), True
