"""Intrinsic functions (``"key.$": "States.Format('{}', $.name)"``) as the AWS developer guide defines them.

https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html: arguments are string
literals in single quotes (``\\'``, ``\\{``, ``\\}`` and ``\\\\`` are the only escapes), numbers, ``true``,
``false``, ``null``, paths (``$...`` or ``$$...``) and nested calls. Where a function wants integers a
non-integer is rounded to the nearest integer; States.Format needs exactly as many arguments as ``{}``
placeholders; States.MathRandom's end is exclusive; States.JsonMerge only does shallow merges.

A syntax error or unknown function raises :class:`IntrinsicSyntaxError` (a definition error); invalid
arguments at run time raise a States.Runtime :class:`~llm_twin.workflows.failures.StatesError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from llm_twin.workflows import jsonpath
from llm_twin.workflows.failures import runtime_error

MAX_STRING_LENGTH = 10_000  # Base64Encode/Decode and Hash inputs
MAX_RANGE_ITEMS = 1000


class IntrinsicSyntaxError(ValueError):
    """The intrinsic function call cannot be parsed, or names an unknown function."""


@dataclass(frozen=True)
class Literal:
    value: Any
    raw: str | None = None  # a string literal as written (escapes kept), for States.Format's template


@dataclass(frozen=True)
class PathArg:
    path: jsonpath.JsonPath


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Literal | PathArg | Call, ...]


def is_intrinsic(text: str) -> bool:
    return text.lstrip().startswith("States.")


@lru_cache(maxsize=1024)
def parse(text: str) -> Call:
    parser = _Parser(text)
    call = parser.call()
    parser.skip_space()
    if parser.pos != len(text):
        raise IntrinsicSyntaxError(f"unexpected text after the call at {parser.pos} in {text!r}")
    return call


def evaluate(call: Call, data: Any, context: Any) -> Any:
    """Evaluate a parsed call; ``data`` is what ``$`` selects from, ``context`` what ``$$`` selects from."""
    function, _, _ = FUNCTIONS[call.name]
    if call.name == "States.Format" and isinstance(call.args[0], Literal):
        # The template keeps its escapes so an escaped brace is never taken for a placeholder.
        args = [call.args[0], *(_argument(arg, data, context) for arg in call.args[1:])]
    else:
        args = [_argument(arg, data, context) for arg in call.args]
    try:
        return function(*args)
    except _InvalidArgument as exc:
        raise runtime_error(f"Invalid arguments in {call.name}: {exc}") from None


def _argument(arg: Literal | PathArg | Call, data: Any, context: Any) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, Call):
        return evaluate(arg, data, context)
    try:
        return arg.path.select(context if arg.path.context else data)
    except jsonpath.PathNotFound:
        raise runtime_error(f"The JsonPath argument '{arg.path.text}' could not be found") from None


# --- parsing -----------------------------------------------------------------------------------------

_NAME = re.compile(r"\s*(States\.[A-Za-z0-9]+)\s*\(")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_KEYWORDS = {"true": True, "false": False, "null": None}
_ESCAPABLE = "'{}\\"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def call(self) -> Call:
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise IntrinsicSyntaxError(f"expected States.<Function>( at {self.pos} in {self.text!r}")
        name = match.group(1)
        if name not in FUNCTIONS:
            supported = ", ".join(FUNCTIONS)
            raise IntrinsicSyntaxError(f"unknown intrinsic function {name}; supported: {supported}")
        self.pos = match.end()
        args: list[Literal | PathArg | Call] = []
        self.skip_space()
        if self._peek() == ")":
            self.pos += 1
        else:
            while True:
                args.append(self.argument())
                self.skip_space()
                separator = self._peek()
                self.pos += 1
                if separator == ")":
                    break
                if separator != ",":
                    raise IntrinsicSyntaxError(f"expected ',' or ')' at {self.pos - 1} in {self.text!r}")
        _, min_args, max_args = FUNCTIONS[name]
        if not min_args <= len(args) <= max_args:
            expected = str(min_args) if min_args == max_args else f"{min_args} to {max_args}"
            raise IntrinsicSyntaxError(f"{name} takes {expected} arguments, got {len(args)} in {self.text!r}")
        return Call(name, tuple(args))

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def argument(self) -> Literal | PathArg | Call:
        self.skip_space()
        char = self._peek()
        if char == "'":
            return self._string()
        if char == "$":
            return self._path()
        if self.text.startswith("States.", self.pos):
            return self.call()
        for word, value in _KEYWORDS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Literal(value)
        if number := _NUMBER.match(self.text, self.pos):
            self.pos = number.end()
            is_float = number.group(1) or number.group(2)
            return Literal(float(number.group()) if is_float else int(number.group()))
        raise IntrinsicSyntaxError(f"unexpected {char!r} at {self.pos} in {self.text!r}")

    def _string(self) -> Literal:
        start = self.pos + 1
        value: list[str] = []
        i = start
        while i < len(self.text):
            char = self.text[i]
            if char == "\\":
                escaped = self.text[i + 1 : i + 2]
                if not escaped or escaped not in _ESCAPABLE:
                    raise IntrinsicSyntaxError(
                        f"invalid escape at {i} in {self.text!r}: use \\' \\{{ \\}} or \\\\"
                    )
                value.append(escaped)
                i += 2
            elif char == "'":
                self.pos = i + 1
                return Literal("".join(value), raw=self.text[start:i])
            else:
                value.append(char)
                i += 1
        raise IntrinsicSyntaxError(f"unterminated string at {start - 1} in {self.text!r}")

    def _path(self) -> PathArg:
        start, depth, quote = self.pos, 0, ""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            elif char in ",)" and depth == 0:
                break
            self.pos += 1
        text = self.text[start : self.pos].strip()
        try:
            return PathArg(jsonpath.parse(text))
        except jsonpath.JsonPathSyntaxError as exc:
            raise IntrinsicSyntaxError(str(exc)) from None


# --- the functions -----------------------------------------------------------------------------------


class _InvalidArgument(ValueError):
    pass


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _InvalidArgument(f"{what} must be a number, got {value!r}")
    return math.floor(value + 0.5) if isinstance(value, float) else value  # Java's Math.round


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _InvalidArgument(f"expected an array, got {value!r}")
    return value


def _string(value: Any, *, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise _InvalidArgument(f"expected a string, got {value!r}")
    if limit is not None and len(value) > limit:
        raise _InvalidArgument(f"the string is longer than {limit} characters")
    return value


def _json_key(value: Any) -> str:
    """Canonical JSON text: two values are equal JSON iff their keys are equal (true is not 1)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _format(template: Any, *values: Any) -> str:
    if isinstance(template, Literal):
        raw = template.raw if template.raw is not None else template.value
    else:
        raw = _string(template).replace("\\", "\\\\")  # a template read from a path has no escapes
    if not isinstance(raw, str):
        raise _InvalidArgument(f"the template must be a string, got {raw!r}")
    pieces: list[str] = []
    remaining = list(values)
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            pieces.append(raw[i + 1 : i + 2])
            i += 2
        elif raw.startswith("{}", i):
            if not remaining:
                raise _InvalidArgument("fewer arguments than {} placeholders")
            pieces.append(_format_value(remaining.pop(0)))
            i += 2
        else:
            pieces.append(raw[i])
            i += 1
    if remaining:
        raise _InvalidArgument("more arguments than {} placeholders")
    return "".join(pieces)


def _format_value(value: Any) -> str:
    """How Step Functions (a Java service) prints a value into a States.Format template."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_format_value(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)


def _string_to_json(text: Any) -> Any:
    try:
        return json.loads(_string(text))
    except json.JSONDecodeError as exc:
        raise _InvalidArgument(f"not valid JSON: {exc}") from None


def _json_to_string(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _array_partition(array: Any, size: Any) -> list[list[Any]]:
    items, chunk = _array(array), _integer(size, "the chunk size")
    if chunk <= 0:
        raise _InvalidArgument(f"the chunk size must be a positive integer, got {size!r}")
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _array_contains(array: Any, value: Any) -> bool:
    wanted = _json_key(value)
    return any(_json_key(item) == wanted for item in _array(array))


def _array_range(start: Any, end: Any, step: Any) -> list[int]:
    first, last, stride = _integer(start, "start"), _integer(end, "end"), _integer(step, "step")
    if stride == 0:
        raise _InvalidArgument("the step must not be 0")
    values = list(range(first, last + (1 if stride > 0 else -1), stride))
    if len(values) > MAX_RANGE_ITEMS:
        raise _InvalidArgument(f"the range has {len(values)} items, more than {MAX_RANGE_ITEMS}")
    return values


def _array_get_item(array: Any, index: Any) -> Any:
    items, position = _array(array), _integer(index, "the index")
    if not 0 <= position < len(items):
        raise _InvalidArgument(f"index {position} is out of bounds for an array of {len(items)}")
    return items[position]


def _array_unique(array: Any) -> list[Any]:
    unique: dict[str, Any] = {}
    for item in _array(array):
        unique.setdefault(_json_key(item), item)
    return list(unique.values())


def _base64_encode(text: Any) -> str:
    return base64.b64encode(_string(text, limit=MAX_STRING_LENGTH).encode()).decode()


def _base64_decode(text: Any) -> str:
    try:
        return base64.b64decode(_string(text, limit=MAX_STRING_LENGTH), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _InvalidArgument(f"not valid base64 text: {exc}") from None


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def _hash(data: Any, algorithm: Any) -> str:
    if algorithm not in _HASHES:
        raise _InvalidArgument(f"unknown algorithm {algorithm!r}; use one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], _string(data, limit=MAX_STRING_LENGTH).encode()).hexdigest()


def _json_merge(first: Any, second: Any, deep: Any) -> dict[str, Any]:
    if deep is not False:
        raise _InvalidArgument("only shallow merges are supported: the third argument must be false")
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise _InvalidArgument("both arguments must be JSON objects")
    return {**first, **second}


def _math_random(start: Any, end: Any, seed: Any = None) -> int:
    low, high = _integer(start, "start"), _integer(end, "end")
    if low >= high:
        raise _InvalidArgument(f"start ({low}) must be less than end ({high})")
    rng = random.Random(_integer(seed, "seed")) if seed is not None else random
    return rng.randrange(low, high)


def _math_add(first: Any, second: Any) -> int:
    values = [_integer(first, "the first value"), _integer(second, "the second value")]
    if any(not -(2**31) <= value < 2**31 for value in values):
        raise _InvalidArgument("values must be between -2147483648 and 2147483647")
    return values[0] + values[1]


def _string_split(text: Any, delimiters: Any) -> list[str]:
    chars = _string(delimiters)
    if not chars:
        raise _InvalidArgument("the delimiter string is empty")
    pattern = "|".join(re.escape(char) for char in chars)
    return [part for part in re.split(pattern, _string(text)) if part]


# name -> (function, minimum arguments, maximum arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "States.Format": (_format, 1, 1_000),
    "States.StringToJson": (_string_to_json, 1, 1),
    "States.JsonToString": (_json_to_string, 1, 1),
    "States.Array": (lambda *values: list(values), 0, 1_000),
    "States.ArrayPartition": (_array_partition, 2, 2),
    "States.ArrayContains": (_array_contains, 2, 2),
    "States.ArrayRange": (_array_range, 3, 3),
    "States.ArrayGetItem": (_array_get_item, 2, 2),
    "States.ArrayLength": (lambda array: len(_array(array)), 1, 1),
    "States.ArrayUnique": (_array_unique, 1, 1),
    "States.Base64Encode": (_base64_encode, 1, 1),
    "States.Base64Decode": (_base64_decode, 1, 1),
    "States.Hash": (_hash, 2, 2),
    "States.JsonMerge": (_json_merge, 3, 3),
    "States.MathRandom": (_math_random, 2, 3),
    "States.MathAdd": (_math_add, 2, 2),
    "States.StringSplit": (_string_split, 2, 2),
    "States.UUID": (lambda: str(uuid.uuid4()), 0, 0),
}
