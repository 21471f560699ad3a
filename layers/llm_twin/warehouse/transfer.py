"""JSONL export/import of the whole warehouse: one item per line, exactly as stored.

A line is the item's attributes as plain JSON (``pk``, ``sk``, ``item_type``, listing-index keys and
fields; datetimes as ISO-8601 UTC strings), keys sorted, lines sorted by (pk, sk): the same table
always exports to the same bytes. Import validates every line before writing any.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from llm_twin.local.clients import aws_client
from llm_twin.warehouse import schema
from llm_twin.warehouse.errors import SnapshotFormatError, UnknownItemTypeError
from llm_twin.warehouse.models import RECORD_CLASSES, WarehouseItem
from llm_twin.warehouse.sizing import item_size

if TYPE_CHECKING:
    from llm_twin.warehouse.repository import Warehouse

_KEY_FIELDS = (schema.PARTITION_KEY, schema.SORT_KEY)
_DERIVED_FIELDS = (*_KEY_FIELDS, schema.ITEM_TYPE_ATTRIBUTE, schema.GSI1_PARTITION_KEY, schema.GSI1_SORT_KEY)


def _scan(warehouse: Warehouse) -> Iterator[WarehouseItem]:
    client = aws_client("dynamodb", warehouse.settings)
    models = warehouse.models
    pages = client.get_paginator("scan").paginate(
        TableName=warehouse.settings.table_name, ConsistentRead=True
    )
    for page in pages:
        for raw in page["Items"]:
            item_type = raw.get(schema.ITEM_TYPE_ATTRIBUTE, {}).get("S")
            try:
                cls = models.for_type(item_type or "")
            except KeyError:
                key = tuple(raw.get(k, {}).get("S") for k in _KEY_FIELDS)
                raise UnknownItemTypeError(f"item {key} has unknown item_type {item_type!r}") from None
            yield cls.from_raw_data(raw)


def write_atomically(path: Path, lines: list[str]) -> None:
    """Write to a temporary file next to ``path``, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_jsonl(warehouse: Warehouse, path: str | os.PathLike[str]) -> int:
    """Write every item of the table to ``path`` (atomically). Returns the number of items."""
    rows = [(item.pk, item.sk, item.to_simple_dict()) for item in _scan(warehouse)]
    rows.sort(key=lambda row: (row[0], row[1]))
    lines = [
        json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
        for *_, data in rows
    ]
    write_atomically(Path(path), lines)
    return len(lines)


def _parse_line(warehouse: Warehouse, number: int, text: str) -> WarehouseItem:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotFormatError(number, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise SnapshotFormatError(number, "expected a JSON object")
    item_type = data.get(schema.ITEM_TYPE_ATTRIBUTE)
    record_cls = RECORD_CLASSES.get(item_type) if isinstance(item_type, str) else None
    if record_cls is None:
        raise SnapshotFormatError(
            number, f"unknown item_type {item_type!r} (known: {sorted(RECORD_CLASSES)})"
        )
    missing = [key for key in _KEY_FIELDS if not isinstance(data.get(key), str)]
    if missing:
        raise SnapshotFormatError(number, f"missing keys {missing}")
    fields = {k: v for k, v in data.items() if k not in _DERIVED_FIELDS}
    try:
        record = record_cls.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '-'}: {e['msg']}" for e in exc.errors())
        raise SnapshotFormatError(number, f"invalid {item_type} item: {problems}") from None
    item = warehouse.models.for_type(item_type).from_record(record)
    derived = item.to_simple_dict()
    for key in _DERIVED_FIELDS:
        if key in data and data[key] != derived.get(key):
            raise SnapshotFormatError(
                number, f"{key} {data[key]!r} does not match the item ({derived.get(key)!r})"
            )
    if item_size(item.serialize()) > schema.MAX_ITEM_BYTES:
        raise SnapshotFormatError(number, "item exceeds DynamoDB's 400 KB limit")
    return item


def read_jsonl(warehouse: Warehouse, path: str | os.PathLike[str]) -> list[WarehouseItem]:
    """Parse and validate every line (blank lines are skipped); raises on the first bad line."""
    items: list[WarehouseItem] = []
    seen: dict[tuple[str, str], int] = {}
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            item = _parse_line(warehouse, number, text)
            key = (item.pk, item.sk)
            if key in seen:
                raise SnapshotFormatError(number, f"duplicate key {key} (first on line {seen[key]})")
            seen[key] = number
            items.append(item)
    return items


def import_jsonl(warehouse: Warehouse, path: str | os.PathLike[str]) -> int:
    """Validate the whole file, then batch-write its items (overwriting items with the same keys;
    other items of the table are kept). Returns the number of items written."""
    items = read_jsonl(warehouse, path)
    with warehouse.models.item.batch_write() as batch:
        for item in items:
            batch.save(item)
    return len(items)
