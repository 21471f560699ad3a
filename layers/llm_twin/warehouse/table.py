"""Create the warehouse table from :func:`schema.create_table_request` (what CDK declares too)."""

from __future__ import annotations

from typing import Any

from llm_twin.local.clients import aws_client
from llm_twin.settings import Settings
from llm_twin.warehouse import schema

_WAITER = {"Delay": 2, "MaxAttempts": 90}  # moto answers ACTIVE at once; AWS takes seconds


def _describe(settings: Settings) -> dict[str, Any] | None:
    client = aws_client("dynamodb", settings)
    try:
        return client.describe_table(TableName=settings.table_name)["Table"]
    except client.exceptions.ResourceNotFoundException:
        return None


def create_table(settings: Settings, *, stream: bool = True) -> bool:
    """Create the table (PAY_PER_REQUEST, listing GSI, stream NEW_AND_OLD_IMAGES unless ``stream`` is
    False) and wait until it is active. Returns False when it already existed (left as it is)."""
    client = aws_client("dynamodb", settings)
    created = False
    if _describe(settings) is None:
        try:
            client.create_table(**schema.create_table_request(settings.table_name, stream=stream))
            created = True
        except client.exceptions.ResourceInUseException:
            pass  # created concurrently
    client.get_waiter("table_exists").wait(TableName=settings.table_name, WaiterConfig=_WAITER)
    return created


def stream_arn(settings: Settings) -> str | None:
    """ARN of the table's enabled stream, or None."""
    table = _describe(settings)
    if not table or not table.get("StreamSpecification", {}).get("StreamEnabled"):
        return None
    return table.get("LatestStreamArn")


def enable_stream(settings: Settings) -> str:
    """Turn the stream on (NEW_AND_OLD_IMAGES) if it is off; returns its ARN."""
    existing = stream_arn(settings)
    if existing:
        return existing
    client = aws_client("dynamodb", settings)
    client.update_table(
        TableName=settings.table_name,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": schema.STREAM_VIEW_TYPE},
    )
    client.get_waiter("table_exists").wait(TableName=settings.table_name, WaiterConfig=_WAITER)
    arn = stream_arn(settings)
    if arn is None:
        raise RuntimeError(f"the stream of {settings.table_name} did not come up")
    return arn


def delete_table(settings: Settings) -> None:
    """Delete the table if it exists (tests, local resets)."""
    client = aws_client("dynamodb", settings)
    try:
        client.delete_table(TableName=settings.table_name)
    except client.exceptions.ResourceNotFoundException:
        return
    client.get_waiter("table_not_exists").wait(TableName=settings.table_name, WaiterConfig=_WAITER)
