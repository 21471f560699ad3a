"""DynamoDB item size accounting, so a document item never exceeds the 400 KB limit."""

from __future__ import annotations

from typing import Any

from llm_twin.warehouse.schema import MAX_ITEM_BYTES

SAFETY_MARGIN = 2048  # bytes kept free below MAX_ITEM_BYTES (estimates, not AWS's exact accounting)


def value_size(value: dict[str, Any]) -> int:
    """Upper bound of one serialized attribute value's size (DynamoDB's published rules)."""
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return len(str(raw)) // 2 + 2
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in raw.items())
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in raw)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """Size of a serialized item (``{"name": {"S": ...}}``): names plus values."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def content_budget(overhead: int, max_content_bytes: int) -> int:
    """Bytes left for the content once the rest of the item (``overhead``) is accounted for."""
    return min(max_content_bytes, MAX_ITEM_BYTES - SAFETY_MARGIN - overhead)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits ``max_bytes`` (never splits a character)."""
    return text.encode()[: max(max_bytes, 0)].decode("utf-8", "ignore")
