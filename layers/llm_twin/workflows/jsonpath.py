"""The JSONPath subset Amazon States Language uses, with the semantics of the Jayway engine AWS runs.

Supported: ``$`` / ``$$`` roots, ``.name``, ``['name']`` / ``["name"]``, ``[n]`` (negative counts from the
end), ``[*]`` and ``.*``, slices ``[a:b:c]`` and index unions ``[0,2]``. Filters ``[?(...)]``, deep scan
``..`` and name unions are rejected with :class:`JsonPathSyntaxError`.

A path is *definite* when it has only names and single indexes: it selects one value, and selecting
something that does not exist raises :class:`PathNotFound` (Step Functions then fails with States.Runtime).
An indefinite path (wildcard, slice, union) selects a list of every match; a missing member is an error only
while the path is still definite, as in Jayway (``$.missing[*]`` fails, ``$.a[*].missing`` gives ``[]``).

Reference paths (ResultPath, and what :func:`write` accepts) are definite paths without negative indexes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class JsonPathSyntaxError(ValueError):
    """The path is not in the supported JSONPath subset."""


class PathNotFound(LookupError):
    """A definite path selected nothing."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Union:
    indexes: tuple[int, ...]


Step = Field | Index | Wildcard | Slice | Union

_NAME = re.compile(r"[^.\[\]]+")
_INT = r"-?\d+"
_SLICE = re.compile(rf"\s*({_INT})?\s*:\s*({_INT})?\s*(?::\s*({_INT})?\s*)?")
_UNION = re.compile(rf"\s*{_INT}\s*(,\s*{_INT}\s*)+")
_QUOTED = re.compile(r"""\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*""")


@dataclass(frozen=True)
class JsonPath:
    text: str
    context: bool  # rooted at $$ (the context object) rather than $ (the state's data)
    steps: tuple[Step, ...]

    @property
    def definite(self) -> bool:
        return all(isinstance(step, Field | Index) for step in self.steps)

    @property
    def is_reference(self) -> bool:
        return all(
            isinstance(step, Field) or (isinstance(step, Index) and step.index >= 0) for step in self.steps
        )

    def select(self, data: Any) -> Any:
        """The selected value (definite path) or list of values (indefinite path)."""
        nodes = [data]
        definite_so_far = True
        for step in self.steps:
            matched: list[Any] = []
            for node in nodes:
                matched.extend(_apply(step, node))
            definite_so_far = definite_so_far and isinstance(step, Field | Index)
            if not matched and definite_so_far:
                raise PathNotFound(self.text)
            nodes = matched
        return nodes[0] if self.definite else nodes


def _apply(step: Step, node: Any) -> list[Any]:
    if isinstance(step, Field):
        return [node[step.name]] if isinstance(node, dict) and step.name in node else []
    if isinstance(step, Wildcard):
        if isinstance(node, dict):
            return list(node.values())
        return list(node) if isinstance(node, list) else []
    if not isinstance(node, list):
        return []
    if isinstance(step, Index):
        return [node[step.index]] if -len(node) <= step.index < len(node) else []
    if isinstance(step, Slice):
        return node[step.start : step.stop : step.step]
    return [node[i] for i in step.indexes if -len(node) <= i < len(node)]


@lru_cache(maxsize=2048)
def parse(text: str) -> JsonPath:
    """Parse a JSONPath (``$...`` or ``$$...``); raises :class:`JsonPathSyntaxError`."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise JsonPathSyntaxError(f"a path must start with '$': {text!r}")
    context = text.startswith("$$")
    pos = 2 if context else 1
    steps: list[Step] = []
    while pos < len(text):
        step, pos = _parse_step(text, pos)
        steps.append(step)
    return JsonPath(text, context, tuple(steps))


def _parse_step(text: str, pos: int) -> tuple[Step, int]:
    if text.startswith("..", pos):
        raise JsonPathSyntaxError(f"deep scan '..' is not supported: {text!r}")
    if text[pos] == ".":
        if text.startswith(".*", pos):
            return Wildcard(), pos + 2
        match = _NAME.match(text, pos + 1)
        if not match:
            raise JsonPathSyntaxError(f"expected a name after '.' at {pos} in {text!r}")
        return Field(match.group()), match.end()
    if text[pos] != "[":
        raise JsonPathSyntaxError(f"unexpected {text[pos]!r} at {pos} in {text!r}")
    end = _closing_bracket(text, pos)
    return _parse_bracket(text[pos + 1 : end], text), end + 1


def _closing_bracket(text: str, pos: int) -> int:
    quote = None
    i = pos + 1
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "]":
            return i
        i += 1
    raise JsonPathSyntaxError(f"unclosed '[' at {pos} in {text!r}")


def _parse_bracket(inner: str, text: str) -> Step:
    if inner.strip() == "*":
        return Wildcard()
    if inner.lstrip().startswith("?"):
        raise JsonPathSyntaxError(f"filter expressions are not supported: {text!r}")
    if quoted := _QUOTED.fullmatch(inner):
        raw = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
        return Field(re.sub(r"\\(.)", r"\1", raw))
    if re.fullmatch(rf"\s*{_INT}\s*", inner):
        return Index(int(inner))
    if _UNION.fullmatch(inner):
        return Union(tuple(int(part) for part in inner.split(",")))
    if ":" in inner and (sliced := _SLICE.fullmatch(inner)):
        start, stop, step = (int(group) if group else None for group in sliced.groups())
        if step == 0:
            raise JsonPathSyntaxError(f"slice step cannot be 0: {text!r}")
        return Slice(start, stop, step)
    raise JsonPathSyntaxError(f"unsupported bracket expression [{inner}] in {text!r}")


def write(data: Any, path: JsonPath, value: Any) -> Any:
    """A copy of ``data`` with ``value`` placed at reference ``path`` (ResultPath semantics).

    Missing objects along the path are created; the containers along the path are copied so ``data``
    itself is left untouched. Raises ValueError when the path cannot be applied (for example it goes
    through a string or past the end of a list).
    """
    if not path.is_reference or path.context:
        raise JsonPathSyntaxError(f"not a reference path: {path.text!r}")
    return _write(data, path.steps, value, path.text)


def _write(node: Any, steps: tuple[Step, ...], value: Any, text: str) -> Any:
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if isinstance(step, Field):
        if not isinstance(node, dict):
            raise ValueError(f"cannot set {text!r}: {_kind(node)} has no field {step.name!r}")
        copy = dict(node)
        copy[step.name] = _write(node.get(step.name, {}) if rest else None, rest, value, text)
        return copy
    assert isinstance(step, Index)
    if not isinstance(node, list) or step.index >= len(node):
        raise ValueError(f"cannot set {text!r}: no element [{step.index}] in {_kind(node)}")
    items = list(node)
    items[step.index] = _write(node[step.index], rest, value, text)
    return items


def _kind(node: Any) -> str:
    if isinstance(node, list):
        return f"an array of {len(node)}"
    return "null" if node is None else f"a {type(node).__name__} value"
