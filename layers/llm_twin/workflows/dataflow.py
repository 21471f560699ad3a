"""A state's input and output processing, in the order the AWS developer guide gives:

InputPath -> Parameters (ItemSelector for a Map) -> the state's work -> ResultSelector -> ResultPath
-> OutputPath.
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html)

- An absent InputPath/OutputPath is ``$``; ``null`` gives ``{}``.
- ResultPath combines the result with the state's *raw* input (before InputPath): absent is ``$`` (the
  result replaces the input), ``null`` discards the result and passes the raw input on.
- In a payload template (Parameters, ItemSelector, ResultSelector) a key ending in ``.$`` takes the value
  its path (``$...`` on the data, ``$$...`` on the context object) or intrinsic function gives; other keys
  are copied, templates nested in objects and arrays included.
- A path that selects nothing is a States.Runtime error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llm_twin.workflows import intrinsics, jsonpath
from llm_twin.workflows.failures import DATA_LIMIT_EXCEEDED, StatesError, runtime_error

DEFAULT_PATH = "$"


def select(path: str | None, data: Any, context: Mapping[str, Any], *, field: str) -> Any:
    """Apply an InputPath, OutputPath or ItemsPath-like field (``None`` selects ``{}``)."""
    if path is None:
        return {}
    return resolve(path, data, context, field=field)


def resolve(expression: str, data: Any, context: Mapping[str, Any], *, field: str) -> Any:
    """The value of a path (``$``: the data, ``$$``: the context object) or intrinsic function call."""
    if intrinsics.is_intrinsic(expression):
        return intrinsics.evaluate(intrinsics.parse(expression), data, context)
    path = jsonpath.parse(expression)
    try:
        return path.select(context if path.context else data)
    except jsonpath.PathNotFound:
        source = "the context object" if path.context else f"the input '{_preview(data)}'"
        raise runtime_error(
            f"The JSONPath '{expression}' specified for the field '{field}' could not be found in {source}"
        ) from None


def render(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    """Build a payload template (Parameters, ItemSelector, ResultSelector) against ``data``."""
    if isinstance(template, dict):
        rendered: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                rendered[key[:-2]] = resolve(value, data, context, field=key)
            else:
                rendered[key] = render(value, data, context)
        return rendered
    if isinstance(template, list):
        return [render(item, data, context) for item in template]
    return template


def apply_result_path(state_input: Any, result_path: str | None, result: Any) -> Any:
    """Combine a state's raw input with its result as ResultPath says."""
    if result_path is None:
        return state_input
    if result_path == DEFAULT_PATH:
        return result
    try:
        return jsonpath.write(state_input, jsonpath.parse(result_path), result)
    except ValueError as exc:
        raise runtime_error(f"Unable to apply ResultPath '{result_path}': {exc}") from None


def check_size(value: Any, limit: int | None, what: str) -> None:
    """Fail with States.DataLimitExceeded when ``value`` is larger than the payload quota (256 KiB)."""
    if limit is None:
        return
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limit:
        raise StatesError(
            DATA_LIMIT_EXCEEDED,
            f"{what} has a size of {size} bytes, exceeding the maximum of {limit} bytes",
        )


def _preview(data: Any, limit: int = 200) -> str:
    text = json.dumps(data, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
