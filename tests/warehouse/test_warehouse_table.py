from __future__ import annotations

from llm_twin.local.clients import aws_client
from llm_twin.settings import Settings
from llm_twin.warehouse import schema
from llm_twin.warehouse.repository import Warehouse
from llm_twin.warehouse.table import create_table, delete_table, enable_stream, stream_arn


def test_create_table_follows_the_schema_and_is_idempotent(settings: Settings) -> None:
    assert create_table(settings) is False  # the fixture created it
    table = aws_client("dynamodb", settings).describe_table(TableName=settings.table_name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == schema.GSI1_NAME
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert stream_arn(settings) == table["LatestStreamArn"]


def test_table_without_stream_then_enabled(settings: Settings) -> None:
    other = settings.model_copy(update={"table_name": settings.table_name + "-nostream"})
    try:
        assert create_table(other, stream=False) is True
        assert stream_arn(other) is None
        arn = enable_stream(other)
        assert arn == stream_arn(other)
        assert enable_stream(other) == arn
    finally:
        delete_table(other)


def test_warehouse_opens_nothing_until_used() -> None:
    unreachable = Settings(aws_endpoint_url="http://127.0.0.1:9", table_name="never")
    warehouse = Warehouse(unreachable)  # no connection at construction
    assert warehouse.models.document.Meta.table_name == "never"
    assert warehouse.models.document.Meta.host == "http://127.0.0.1:9"


def test_models_are_bound_per_table(warehouse: Warehouse, settings: Settings) -> None:
    other = Warehouse(settings.model_copy(update={"table_name": "another"}))
    assert warehouse.models.author is not other.models.author
    assert warehouse.models.author is Warehouse(settings).models.author  # cached per binding
    assert other.models.author.Meta.table_name == "another"
    assert warehouse.models.author.Meta.table_name == settings.table_name
