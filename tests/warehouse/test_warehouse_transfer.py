from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llm_twin.domain.models import Category, CrawledDocument, LinkReport, Platform
from llm_twin.local.clients import aws_client
from llm_twin.settings import Settings
from llm_twin.warehouse.errors import SnapshotFormatError
from llm_twin.warehouse.repository import Warehouse
from llm_twin.warehouse.table import create_table, delete_table
from llm_twin.warehouse.transfer import export_jsonl, import_jsonl

T0 = datetime(2026, 11, 29, 13, 0, 0, 123456, tzinfo=UTC)


def _populate(warehouse: Warehouse) -> None:
    warehouse.upsert_author("Maya Lindqvist", ["https://medium.com/@maya", "https://github.com/maya"], now=T0)
    warehouse.upsert_author("Zoë Ångström", now=T0)
    warehouse.set_author_schedule("zoe-angstrom", False, now=T0)
    warehouse.upsert_document(
        "maya-lindqvist",
        "Maya Lindqvist",
        CrawledDocument(
            platform=Platform.MEDIUM,
            category=Category.ARTICLE,
            link="https://medium.com/@maya/p1",
            title="Vectors ✨",
            subtitle="",
            content="# Title\n\n```py\nprint('ü')\n```\n",
            published_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
            metadata={"tags": "ml,rag", "empty": ""},
        ),
        now=T0,
    )
    warehouse.upsert_document(
        "zoe-angstrom",
        "Zoë Ångström",
        CrawledDocument(
            platform=Platform.GITHUB,
            category=Category.REPOSITORY,
            link="https://github.com/z/r",
            title="r",
            content="code",
        ),
    )
    warehouse.create_run(
        "run-1", [(0, "maya-lindqvist", "https://medium.com/@maya"), (1, "zoe-angstrom", "x")], now=T0
    )
    warehouse.put_link_status(
        "run-1", 0, LinkReport(link="https://medium.com/@maya", status="ok", new=1), "maya-lindqvist"
    )
    warehouse.finish_run("run-1", "partial", {"ok": 1, "failed": 1, "documents_new": 1})
    warehouse.create_run("run-2", [], now=T0)


def _raw_items(settings: Settings) -> list[dict[str, Any]]:
    items = aws_client("dynamodb", settings).scan(TableName=settings.table_name, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


@pytest.fixture
def fresh(settings: Settings) -> Iterator[Settings]:
    other = settings.model_copy(update={"table_name": f"wh-fresh-{uuid.uuid4().hex[:8]}"})
    create_table(other)
    yield other
    delete_table(other)


def test_export_import_round_trip_is_exact(
    warehouse: Warehouse, settings: Settings, fresh: Settings, tmp_path: Path
) -> None:
    _populate(warehouse)
    first = tmp_path / "out" / "warehouse.jsonl"
    count = export_jsonl(warehouse, first)
    assert count == len(_raw_items(settings)) == 8
    lines = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    assert {line["item_type"] for line in lines} == {"author", "document", "run", "link_status"}
    doc = next(line for line in lines if line.get("title") == "Vectors ✨")
    assert doc["published_at"] == "2025-01-02T03:04:05.000000Z"
    assert doc["metadata"] == {"tags": "ml,rag", "empty": ""}
    assert doc["subtitle"] == ""

    assert import_jsonl(Warehouse(fresh), first) == count
    assert _raw_items(fresh) == _raw_items(settings)  # every attribute, with its DynamoDB type
    second = tmp_path / "again.jsonl"
    export_jsonl(Warehouse(fresh), second)
    assert second.read_bytes() == first.read_bytes()
    assert Warehouse(fresh).get_author("zoe-angstrom") == warehouse.get_author("zoe-angstrom")
    assert Warehouse(fresh).list_runs() == warehouse.list_runs()


def test_export_replaces_the_file_atomically(warehouse: Warehouse, tmp_path: Path) -> None:
    target = tmp_path / "warehouse.jsonl"
    target.write_text("old content\n")
    assert export_jsonl(warehouse, target) == 0
    assert target.read_text() == ""
    assert [p.name for p in tmp_path.iterdir()] == ["warehouse.jsonl"]  # no temp file left behind


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"item_type": "author", "pk": "AUTHOR#a"', "invalid JSON"),
        ('{"item_type": "spaceship", "pk": "X", "sk": "Y"}', "unknown item_type 'spaceship'"),
        ('["not", "an", "object"]', "expected a JSON object"),
        (None, "missing keys ['sk']"),
        (None, "content: Field required"),
        (None, "pk 'AUTHOR#someone-else' does not match"),
        (None, "version: Input should be a valid integer"),
        (None, "duplicate key"),
    ],
)
def test_import_rejects_a_bad_line_and_writes_nothing(
    warehouse: Warehouse,
    settings: Settings,
    fresh: Settings,
    tmp_path: Path,
    bad_line: str | None,
    message: str,
) -> None:
    _populate(warehouse)
    good = tmp_path / "good.jsonl"
    export_jsonl(warehouse, good)
    lines = good.read_text(encoding="utf-8").splitlines()
    doc_index = next(i for i, line in enumerate(lines) if '"item_type":"document"' in line)
    doc = json.loads(lines[doc_index])
    if bad_line is None:
        if "missing" in message:
            doc.pop("sk")
        elif "content" in message:
            doc.pop("content")
        elif "pk" in message:
            doc["pk"] = "AUTHOR#someone-else"
        elif "version" in message:
            doc["version"] = "two"
        bad_line = json.dumps(doc) if "duplicate" not in message else lines[doc_index]
    lines.insert(4, bad_line)  # becomes line 5
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(SnapshotFormatError) as caught:
        import_jsonl(Warehouse(fresh), bad)
    assert caught.value.line == 5
    assert str(caught.value).startswith("line 5: ")
    assert message in str(caught.value)
    assert _raw_items(fresh) == []
