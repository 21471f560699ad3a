"""Positions in the warehouse's DynamoDB stream, for a local poller (the hook it starts from).

A :class:`StreamCursor` records, per shard, the sequence number of the last record already handled;
shards it does not name are read from TRIM_HORIZON. It is plain data (``to_dict``/``from_dict``), so
it can be checkpointed to a file. :func:`read_records` is the minimal building block: it drains every
shard from a cursor and returns the records (the event shape Lambda receives) and the advanced cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llm_twin.local.clients import aws_client
from llm_twin.settings import Settings
from llm_twin.warehouse.table import stream_arn

Record = dict[str, Any]


@dataclass(frozen=True)
class StreamCursor:
    stream_arn: str
    positions: dict[str, str] = field(default_factory=dict)  # shard id -> last sequence number handled

    def iterator_request(self, shard_id: str) -> dict[str, str]:
        """``GetShardIterator`` arguments that resume this shard right after its position."""
        request = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        sequence = self.positions.get(shard_id)
        if sequence is None:
            return {**request, "ShardIteratorType": "TRIM_HORIZON"}
        return {**request, "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": sequence}

    def advanced(self, shard_id: str, sequence_number: str) -> StreamCursor:
        return StreamCursor(self.stream_arn, {**self.positions, shard_id: sequence_number})

    def to_dict(self) -> dict[str, Any]:
        return {"stream_arn": self.stream_arn, "positions": dict(self.positions)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamCursor:
        return cls(str(data["stream_arn"]), {str(k): str(v) for k, v in data.get("positions", {}).items()})


def _shard_ids(client: Any, arn: str) -> list[str]:
    shards: list[str] = []
    request: dict[str, Any] = {"StreamArn": arn}
    while True:
        description = client.describe_stream(**request)["StreamDescription"]
        shards.extend(shard["ShardId"] for shard in description.get("Shards", []))
        last = description.get("LastEvaluatedShardId")
        if not last:
            return shards
        request["ExclusiveStartShardId"] = last


def _walk(client: Any, cursor: StreamCursor, on_record: Callable[[Record], None]) -> StreamCursor:
    """Read every shard from the cursor to its current end (an empty page), parents first."""
    for shard_id in _shard_ids(client, cursor.stream_arn):
        iterator = client.get_shard_iterator(**cursor.iterator_request(shard_id))["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            for record in records:
                on_record(record)
                cursor = cursor.advanced(shard_id, record["dynamodb"]["SequenceNumber"])
            if not records:
                break
            iterator = page.get("NextShardIterator")
    return cursor


def read_records(settings: Settings, cursor: StreamCursor) -> tuple[list[Record], StreamCursor]:
    """Every record after ``cursor`` (all shards) and the cursor past them."""
    records: list[Record] = []
    end = _walk(aws_client("dynamodbstreams", settings), cursor, records.append)
    return records, end


def latest_cursor(settings: Settings, start: StreamCursor | None = None) -> StreamCursor:
    """The stream's current end (LATEST, pinned as sequence numbers): a poller started from it sees
    only what is written afterwards. Walks the records after ``start`` without keeping them."""
    arn = stream_arn(settings)
    if arn is None:
        raise RuntimeError(f"table {settings.table_name} has no enabled stream")
    if start is None or start.stream_arn != arn:
        start = StreamCursor(arn)
    return _walk(aws_client("dynamodbstreams", settings), start, lambda _record: None)
