"""Robust parsing of small-model replies: the first JSON object or array, with light repairs."""

from __future__ import annotations

import json
import re
from typing import Any

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_BARE_NONE = re.compile(r"\b(None|NULL|Null)\b")


def _balanced(text: str, start: int) -> str | None:
    """The bracketed span starting at ``text[start]`` (``{`` or ``[``), string-aware, or None."""
    opening = text[start]
    closing = "}" if opening == "{" else "]"
    depth, in_string, quote, escaped = 0, False, "", False
    for i in range(start, len(text)):
        char = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                in_string = False
        elif char in "\"'":
            in_string, quote = True, char
        elif char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _loads(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", candidate)
    repaired = _BARE_NONE.sub("null", repaired)
    repaired = repaired.replace("True", "true").replace("False", "false")
    if "'" in repaired and '"' not in repaired:
        repaired = repaired.replace("'", '"')
    return json.loads(repaired)


def first_json(text: str, kind: str = "{") -> Any | None:
    """The first parseable JSON value of ``kind`` (``{`` object or ``[`` array) in ``text``."""
    position = text.find(kind)
    while position != -1:
        span = _balanced(text, position)
        if span is not None:
            try:
                return _loads(span)
            except json.JSONDecodeError:
                pass
        position = text.find(kind, position + 1)
    return None
