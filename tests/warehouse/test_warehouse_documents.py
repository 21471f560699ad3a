from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from llm_twin import ids
from llm_twin.domain.models import Category, CrawledDocument, Platform
from llm_twin.errors import InvalidInputError, TransientStoreError
from llm_twin.local.clients import aws_client
from llm_twin.settings import Settings
from llm_twin.warehouse.models import document_key
from llm_twin.warehouse.repository import Warehouse
from llm_twin.warehouse.schema import MAX_ITEM_BYTES
from llm_twin.warehouse.sizing import item_size

T1 = datetime(2026, 11, 29, 13, 1, 0, 500000, tzinfo=UTC)
T2 = datetime(2026, 11, 29, 13, 2, tzinfo=UTC)
T3 = datetime(2026, 11, 29, 13, 3, tzinfo=UTC)
AUTHOR = ("maya-lindqvist", "Maya Lindqvist")


def _doc(
    content: str = "# Hello\n\nWorld", link: str = "https://Blog.example/p/1/", **extra: Any
) -> CrawledDocument:
    fields: dict[str, Any] = {
        "platform": Platform.BLOG,
        "category": Category.ARTICLE,
        "link": link,
        "title": "Hello",
        "content": content,
        "metadata": {"lang": "en"},
        **extra,
    }
    return CrawledDocument(**fields)


def _doc_id(link: str = "https://blog.example/p/1") -> str:
    return ids.document_id(AUTHOR[0], link)


def test_new_unchanged_updated(warehouse: Warehouse) -> None:
    assert warehouse.upsert_document(*AUTHOR, _doc(), now=T1) == "new"
    first = warehouse.get_document(AUTHOR[0], _doc_id())
    assert first is not None
    assert first.link == "https://blog.example/p/1"
    assert first.version == 1
    assert first.content_hash == ids.content_hash("# Hello\n\nWorld")
    assert first.crawled_at == first.updated_at == T1
    assert first.metadata == {"lang": "en"}

    assert warehouse.upsert_document(*AUTHOR, _doc(title="Renamed"), now=T2) == "unchanged"
    seen = warehouse.get_document(AUTHOR[0], _doc_id())
    assert seen == first.model_copy(update={"crawled_at": T2})  # only crawled_at moved

    assert warehouse.upsert_document(*AUTHOR, _doc("# Hello\n\nWorld, again"), now=T3) == "updated"
    changed = warehouse.get_document(AUTHOR[0], _doc_id())
    assert changed is not None
    assert changed.version == 2
    assert changed.content == "# Hello\n\nWorld, again"
    assert changed.content_hash == ids.content_hash(changed.content)
    assert changed.crawled_at == changed.updated_at == T3


def test_get_list_delete_documents(warehouse: Warehouse) -> None:
    assert warehouse.get_document(*document_key("x", "y")) is None
    warehouse.upsert_document(*AUTHOR, _doc(link="https://b.example/1"))
    warehouse.upsert_document(*AUTHOR, _doc(link="https://a.example/2", platform=Platform.MEDIUM))
    warehouse.upsert_document(
        "adam-ng",
        "Adam Ng",
        _doc(link="https://github.com/adam/x", platform=Platform.GITHUB, category=Category.REPOSITORY),
    )
    assert [d.link for d in warehouse.list_documents()] == [
        "https://github.com/adam/x",
        "https://a.example/2",
        "https://b.example/1",
    ]
    assert [d.link for d in warehouse.list_documents(author_id=AUTHOR[0])] == [
        "https://a.example/2",
        "https://b.example/1",
    ]
    assert [d.link for d in warehouse.list_documents(platform="medium")] == ["https://a.example/2"]
    assert [d.author_id for d in warehouse.list_documents(category=Category.REPOSITORY)] == ["adam-ng"]
    assert warehouse.list_documents(author_id="adam-ng", platform=Platform.BLOG) == []

    assert warehouse.delete_document(AUTHOR[0], _doc_id("https://b.example/1")) is True
    assert warehouse.delete_document(AUTHOR[0], _doc_id("https://b.example/1")) is False
    assert len(warehouse.list_documents()) == 2


@contextmanager
def _before_put(warehouse: Warehouse, handler: Callable[[], None], times: int) -> Iterator[list[int]]:
    """Run ``handler`` (another writer) right before our next ``times`` PutItem calls reach DynamoDB."""
    client = warehouse.models.document._get_connection().connection.client
    fired: list[int] = []

    def hook(**_: Any) -> None:
        if len(fired) < times:
            fired.append(1)
            handler()

    client.meta.events.register("before-call.dynamodb.PutItem", hook)
    try:
        yield fired
    finally:
        client.meta.events.unregister("before-call.dynamodb.PutItem", hook)


def test_lost_race_on_create_is_retried(warehouse: Warehouse, settings: Settings) -> None:
    other = Warehouse(settings)
    with _before_put(
        warehouse, lambda: other.upsert_document(*AUTHOR, _doc("theirs"), now=T1), times=1
    ) as fired:
        outcome = warehouse.upsert_document(*AUTHOR, _doc("ours"), now=T2)
    assert fired == [1]
    assert outcome == "updated"  # their create won; ours became an update on top of it
    stored = warehouse.get_document(AUTHOR[0], _doc_id())
    assert stored is not None
    assert (stored.content, stored.version, stored.updated_at) == ("ours", 2, T2)


def test_lost_race_on_update_is_retried(warehouse: Warehouse, settings: Settings) -> None:
    warehouse.upsert_document(*AUTHOR, _doc("v1"), now=T1)
    other = Warehouse(settings)
    with _before_put(warehouse, lambda: other.upsert_document(*AUTHOR, _doc("v2"), now=T2), times=1) as fired:
        outcome = warehouse.upsert_document(*AUTHOR, _doc("v2"), now=T3)
    assert fired == [1]
    assert outcome == "unchanged"  # after the re-read, the content is already there
    stored = warehouse.get_document(AUTHOR[0], _doc_id())
    assert stored is not None
    assert (stored.content, stored.version, stored.updated_at, stored.crawled_at) == ("v2", 2, T2, T3)


def test_persistent_conflict_raises_transient_store_error(warehouse: Warehouse, settings: Settings) -> None:
    warehouse.upsert_document(*AUTHOR, _doc("v1"), now=T1)
    raw = aws_client("dynamodb", settings)
    pk, sk = document_key(AUTHOR[0], _doc_id())

    def bump() -> None:  # another writer changes the item every time, straight through DynamoDB
        raw.update_item(
            TableName=settings.table_name,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="SET version = version + :one, content_hash = :h",
            ExpressionAttributeValues={":one": {"N": "1"}, ":h": {"S": uuid.uuid4().hex}},
        )

    with _before_put(warehouse, bump, times=10) as fired, pytest.raises(TransientStoreError):
        warehouse.upsert_document(*AUTHOR, _doc("v2"), now=T2)
    assert len(fired) == 2  # the first attempt and one retry


def _raw_item(settings: Settings, author_id: str, document_id: str) -> dict[str, Any]:
    pk, sk = document_key(author_id, document_id)
    item = aws_client("dynamodb", settings).get_item(
        TableName=settings.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}}
    )["Item"]
    return dict(item)


def test_oversized_content_is_truncated_below_the_item_limit(
    warehouse: Warehouse, settings: Settings
) -> None:
    content = "é" * 150_001 + "🙂" * 50_000  # 500_002 bytes, multi-byte characters at the cut
    assert warehouse.upsert_document(*AUTHOR, _doc(content)) == "new"
    stored = warehouse.get_document(AUTHOR[0], _doc_id())
    assert stored is not None
    assert len(stored.content.encode()) <= settings.max_document_bytes
    assert content.startswith(stored.content)
    assert stored.metadata == {"lang": "en", "truncated": "true", "original_bytes": "500002"}
    assert stored.content_hash == ids.content_hash(stored.content)
    assert warehouse.upsert_document(*AUTHOR, _doc(content)) == "unchanged"

    roomy = Warehouse(settings.model_copy(update={"max_document_bytes": 5_000_000}))
    assert roomy.upsert_document(*AUTHOR, _doc(content, link="https://blog.example/big")) == "new"
    big = _raw_item(settings, AUTHOR[0], _doc_id("https://blog.example/big"))
    assert item_size(big) < MAX_ITEM_BYTES
    assert len(big["content"]["S"].encode()) > settings.max_document_bytes


def test_fields_besides_content_too_large_are_refused(warehouse: Warehouse) -> None:
    with pytest.raises(InvalidInputError):
        warehouse.upsert_document(*AUTHOR, _doc(metadata={"blob": "x" * MAX_ITEM_BYTES}))
