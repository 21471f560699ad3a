"""Which warehouse stream records reach the feature handler: Lambda event-filter patterns.

The CDK event source mapping deploys :data:`DOCUMENT_FILTER_PATTERNS` as its FilterCriteria; the local
stream poller applies the same patterns with :func:`matches_any`, so both worlds deliver the same records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from llm_twin.warehouse import schema

STREAM_BATCH_SIZE = 10
"""Records per feature-handler invocation: the event source mapping's default batch size (infra) and
the local poller's. Small enough that one slow batch stays far below the Lambda timeout, large
enough that the handler's one index write per batch amortises (docs/benchmarks.md)."""

_DOCUMENT = {schema.ITEM_TYPE_ATTRIBUTE: {"S": [schema.ITEM_TYPE_DOCUMENT]}}
# OR-ed patterns. INSERT and MODIFY carry NewImage; a REMOVE carries only OldImage.
DOCUMENT_FILTER_PATTERNS: tuple[dict[str, Any], ...] = (
    {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": _DOCUMENT}},
    {"eventName": ["REMOVE"], "dynamodb": {"OldImage": _DOCUMENT}},
)


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Lambda event filtering for exact-value patterns (the subset these patterns use): every key of the
    pattern is present, nested objects match recursively, leaf values are among the listed ones."""
    if not isinstance(event, Mapping):
        return False
    for key, expected in pattern.items():
        if key not in event:
            return False
        if isinstance(expected, Mapping):
            if not matches(expected, event[key]):
                return False
        elif event[key] not in expected:
            return False
    return True


def matches_any(patterns: Iterable[Mapping[str, Any]], event: Any) -> bool:
    return any(matches(pattern, event) for pattern in patterns)
