"""Choice rules of the JSONPath query language
(https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html).

- Comparisons are typed: a value of another type than the operator's compares false (``StringEquals``
  against the number 1 is false, ``NumericEquals`` against ``"1"`` or ``true`` is false).
- A Variable (or ``...Path`` operand) that selects nothing is a States.Runtime error, except for
  ``IsPresent``; guard optional fields with ``IsPresent`` inside an ``And``.
- ``StringMatches`` knows one wildcard, ``*``; ``\\*`` is a literal asterisk and ``\\\\`` a backslash.
- Timestamps are RFC 3339 with an uppercase ``T`` and ``Z`` (or a numeric offset), compared as instants.
- No matching rule and no Default fails the state with States.NoChoiceMatched.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from llm_twin.workflows import dataflow, jsonpath
from llm_twin.workflows.failures import NO_CHOICE_MATCHED, DefinitionError, StatesError, runtime_error

_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})")


def parse_timestamp(value: Any) -> datetime | None:
    """The instant an ASL timestamp string denotes, or None if ``value`` is not one."""
    if not isinstance(value, str) or not (match := _TIMESTAMP.fullmatch(value)):
        return None
    stamp, fraction, zone = match.groups()
    micro = f".{(fraction or '')[:6]:0<6}"
    try:
        return datetime.fromisoformat(stamp + micro + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None


def _as_string(value: Any) -> Any:
    return value if isinstance(value, str) else None


def _as_number(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _as_boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else None


_FAMILIES: dict[str, Callable[[Any], Any]] = {
    "String": _as_string,
    "Numeric": _as_number,
    "Boolean": _as_boolean,
    "Timestamp": parse_timestamp,
}
_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
# operator name -> (normaliser, relation, second operand is a path)
COMPARISONS: dict[str, tuple[Callable[[Any], Any], Callable[[Any, Any], bool], bool]] = {
    f"{family}{relation}{suffix}": (normalise, compare, suffix == "Path")
    for family, normalise in _FAMILIES.items()
    for relation, compare in _RELATIONS.items()
    if family != "Boolean" or relation == "Equals"
    for suffix in ("", "Path")
}
TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda value: value is None,
    "IsString": lambda value: isinstance(value, str),
    "IsNumeric": lambda value: _as_number(value) is not None,
    "IsBoolean": lambda value: isinstance(value, bool),
    "IsTimestamp": lambda value: parse_timestamp(value) is not None,
}
OPERATORS = frozenset(COMPARISONS) | frozenset(TYPE_TESTS) | {"IsPresent", "StringMatches"}
_BOOLEAN_RULES = ("And", "Or", "Not")


def choose(state: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> str:
    """The name of the next state a Choice state goes to for ``data``."""
    for rule in state["Choices"]:
        if evaluate(rule, data, context):
            return rule["Next"]
    if "Default" in state:
        return state["Default"]
    raise StatesError(NO_CHOICE_MATCHED, "No Choice rule matched and no Default is defined")


def evaluate(rule: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> bool:
    if "And" in rule:
        return all(evaluate(sub_rule, data, context) for sub_rule in rule["And"])
    if "Or" in rule:
        return any(evaluate(sub_rule, data, context) for sub_rule in rule["Or"])
    if "Not" in rule:
        return not evaluate(rule["Not"], data, context)
    name = _operator_of(rule)
    variable = rule["Variable"]
    if name == "IsPresent":
        return _is_present(variable, data, context) == rule[name]
    value = _operand(variable, data, context)
    if name in TYPE_TESTS:
        return TYPE_TESTS[name](value) == rule[name]
    if name == "StringMatches":
        return isinstance(value, str) and wildcard_pattern(rule[name]).fullmatch(value) is not None
    normalise, compare, by_path = COMPARISONS[name]
    expected = _operand(rule[name], data, context) if by_path else rule[name]
    left, right = normalise(value), normalise(expected)
    return left is not None and right is not None and compare(left, right)


def _operator_of(rule: Mapping[str, Any]) -> str:
    return next(key for key in rule if key in OPERATORS)


def _is_present(path: str, data: Any, context: Mapping[str, Any]) -> bool:
    try:
        dataflow.resolve(path, data, context, field="Variable")
    except StatesError:
        return False
    return True


def _operand(path: str, data: Any, context: Mapping[str, Any]) -> Any:
    try:
        return dataflow.resolve(path, data, context, field="Variable")
    except StatesError:
        raise runtime_error(
            f"Invalid path '{path}': The choice state's condition path references an invalid value."
        ) from None


def wildcard_pattern(pattern: str) -> re.Pattern[str]:
    """StringMatches' pattern as a regular expression."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


# --- validation ----------------------------------------------------------------------------------


def validate_rule(rule: Any, where: str, *, top_level: bool) -> None:
    """Raise DefinitionError when a Choice rule is malformed."""
    if not isinstance(rule, dict):
        raise DefinitionError(f"{where}: a Choice rule must be an object")
    if top_level and not isinstance(rule.get("Next"), str):
        raise DefinitionError(f"{where}: a top-level Choice rule needs Next")
    if not top_level and "Next" in rule:
        raise DefinitionError(f"{where}: a nested Choice rule cannot have Next")
    booleans = [key for key in _BOOLEAN_RULES if key in rule]
    operators = [key for key in rule if key in OPERATORS]
    if len(booleans) + len(operators) != 1:
        found = booleans + operators
        raise DefinitionError(f"{where}: a Choice rule needs exactly one operator, found {found}")
    if booleans:
        _validate_boolean_rule(rule, booleans[0], where)
        return
    name = operators[0]
    _validate_path(rule.get("Variable"), f"{where}.Variable")
    value = rule[name]
    if name in TYPE_TESTS or name == "IsPresent":
        if not isinstance(value, bool):
            raise DefinitionError(f"{where}: {name} takes true or false")
    elif name == "StringMatches" or not COMPARISONS[name][2]:
        normalise = _as_string if name == "StringMatches" else COMPARISONS[name][0]
        if normalise(value) is None:
            raise DefinitionError(f"{where}: {value!r} is not a valid value for {name}")
    else:
        _validate_path(value, f"{where}.{name}")


def _validate_boolean_rule(rule: Mapping[str, Any], name: str, where: str) -> None:
    if name == "Not":
        validate_rule(rule["Not"], f"{where}.Not", top_level=False)
        return
    if not isinstance(rule[name], list) or not rule[name]:
        raise DefinitionError(f"{where}: {name} takes a non-empty array of rules")
    for index, sub_rule in enumerate(rule[name]):
        validate_rule(sub_rule, f"{where}.{name}[{index}]", top_level=False)


def _validate_path(path: Any, where: str) -> None:
    if not isinstance(path, str):
        raise DefinitionError(f"{where}: expected a path")
    try:
        jsonpath.parse(path)
    except jsonpath.JsonPathSyntaxError as exc:
        raise DefinitionError(f"{where}: {exc}") from None
