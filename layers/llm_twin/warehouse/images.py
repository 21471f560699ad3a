"""Warehouse items as DynamoDB Streams deliver them (``NewImage`` / ``OldImage``, DynamoDB JSON)."""

from __future__ import annotations

from typing import Any

from llm_twin.errors import InvalidInputError
from llm_twin.warehouse import schema
from llm_twin.warehouse.models import DocumentItem
from llm_twin.warehouse.records import Document

Image = dict[str, dict[str, Any]]


def item_type(image: Image | None) -> str | None:
    value = (image or {}).get(schema.ITEM_TYPE_ATTRIBUTE, {})
    return value.get("S") if isinstance(value, dict) else None


def document_id_of(keys: Image, image: Image | None = None) -> str:
    """The document id from the item's keys (``sk = DOC#<id>``), as a REMOVE carries no new image."""
    sort_key = (keys.get(schema.SORT_KEY) or {}).get("S", "")
    if sort_key.startswith(schema.DOCUMENT_PREFIX):
        return sort_key.removeprefix(schema.DOCUMENT_PREFIX)
    found = (image or {}).get("document_id", {}).get("S")
    if not found:
        raise InvalidInputError(f"not a document key: {keys!r}")
    return str(found)


def document_from_image(image: Image) -> Document:
    """Parse a document image; raises InvalidInputError (naming the problem) for a malformed one."""
    if item_type(image) != schema.ITEM_TYPE_DOCUMENT:
        raise InvalidInputError(f"not a document image (item_type={item_type(image)!r})")
    try:
        return DocumentItem.from_raw_data(image).to_record()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(f"malformed document image: {exc!r}") from exc
