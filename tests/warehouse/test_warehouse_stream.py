"""The warehouse's DynamoDB stream, read with plain boto3 dynamodbstreams calls against moto's server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from llm_twin import ids
from llm_twin.domain.models import Category, CrawledDocument, Platform
from llm_twin.local.clients import aws_client
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse

AUTHOR = ("maya-lindqvist", "Maya Lindqvist")
T1 = datetime(2026, 11, 29, 13, 1, tzinfo=UTC)
T2 = datetime(2026, 11, 29, 13, 2, tzinfo=UTC)
T3 = datetime(2026, 11, 29, 13, 3, tzinfo=UTC)


def _doc(content: str) -> CrawledDocument:
    return CrawledDocument(
        platform=Platform.BLOG,
        category=Category.ARTICLE,
        link="https://blog.example/p",
        title="P",
        content=content,
    )


def _all_records(settings: Settings) -> list[dict[str, Any]]:
    arn = aws_client("dynamodb", settings).describe_table(TableName=settings.table_name)["Table"][
        "LatestStreamArn"
    ]
    streams = aws_client("dynamodbstreams", settings)
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            if not page["Records"]:
                break
            records.extend(page["Records"])
            iterator = page.get("NextShardIterator")
    return records


def test_document_writes_stream_insert_modify_remove_with_both_images(
    warehouse: Warehouse, settings: Settings
) -> None:
    warehouse.upsert_document(*AUTHOR, _doc("v1"), now=T1)
    assert warehouse.upsert_document(*AUTHOR, _doc("v1"), now=T2) == "unchanged"
    assert warehouse.upsert_document(*AUTHOR, _doc("v2"), now=T3) == "updated"
    document_id = ids.document_id(AUTHOR[0], "https://blog.example/p")
    assert warehouse.delete_document(AUTHOR[0], document_id)

    records = _all_records(settings)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "MODIFY", "REMOVE"]
    insert, recrawl, update, remove = (r["dynamodb"] for r in records)
    assert all(r["StreamViewType"] == "NEW_AND_OLD_IMAGES" for r in (insert, recrawl, update, remove))
    assert insert["Keys"] == {"pk": {"S": f"AUTHOR#{AUTHOR[0]}"}, "sk": {"S": f"DOC#{document_id}"}}
    assert "OldImage" not in insert
    assert insert["NewImage"]["item_type"] == {"S": "document"}
    assert insert["NewImage"]["content"] == {"S": "v1"}

    # the unchanged re-crawl: same content and hash, only crawled_at differs
    changed = {k for k in recrawl["NewImage"] if recrawl["NewImage"][k] != recrawl["OldImage"].get(k)}
    assert changed == {"crawled_at"}
    assert recrawl["NewImage"]["content_hash"] == recrawl["OldImage"]["content_hash"]

    assert update["OldImage"]["content"] == {"S": "v1"}
    assert update["NewImage"]["content"] == {"S": "v2"}
    assert update["NewImage"]["version"] == {"N": "2"}
    assert update["NewImage"]["content_hash"] != update["OldImage"]["content_hash"]

    assert "NewImage" not in remove
    assert remove["OldImage"]["content"] == {"S": "v2"}


def test_delete_author_streams_one_remove_per_item(warehouse: Warehouse, settings: Settings) -> None:
    warehouse.upsert_author(AUTHOR[1])
    warehouse.upsert_document(*AUTHOR, _doc("v1"))
    warehouse.delete_author(AUTHOR[0])
    removes = [r for r in _all_records(settings) if r["eventName"] == "REMOVE"]
    assert sorted(r["dynamodb"]["OldImage"]["item_type"]["S"] for r in removes) == ["author", "document"]
