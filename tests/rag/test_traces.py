"""Prompt traces: the local JSONL store (append, retention, newest first, `llm-twin traces`) and the
DynamoDB store on moto (TTL attribute, size cap)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llm_twin.llm.ports import ChatMessage
from llm_twin.local.aws import LocalAws
from llm_twin.local.clients import aws_client
from llm_twin.rag.trace import RagTrace
from llm_twin.rag.traces import MAX_TRACE_BYTES, DynamoTraceStore, JsonlTraceStore, make_trace_sink
from tests.cli.test_cli import run


def trace(query: str, prompt: str = "context") -> RagTrace:
    return RagTrace(
        trace_id=f"t-{query}",
        kind="answer",
        query=query,
        messages=[ChatMessage(role="system", content=prompt), ChatMessage(role="user", content=query)],
        latency_ms={"generate": 12.0, "search": 3.0},
        grounded=True,
    )


def backdate(path: Path, days: float) -> None:
    """Make every stored trace ``days`` older (as if it had been written then)."""
    lines = []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        when = datetime.fromisoformat(entry["recorded_at"]) - timedelta(days=days)
        lines.append(json.dumps({**entry, "recorded_at": when.isoformat()}))
    path.write_text("".join(line + "\n" for line in lines))


def test_jsonl_store_appends_and_reads_newest_first(tmp_path: Path) -> None:
    store = JsonlTraceStore(tmp_path / "traces.jsonl", retention_days=7)
    for query in ("one", "two", "three"):
        store(trace(query))
    assert [t["query"] for t in store.recent(2)] == ["three", "two"]
    assert len(store.path.read_text().splitlines()) == 3


def test_jsonl_store_drops_expired_traces(tmp_path: Path) -> None:
    store = JsonlTraceStore(tmp_path / "traces.jsonl", retention_days=7)
    store(trace("old"))
    backdate(store.path, 8)
    assert store.recent() == []  # expired: never shown, even before the file is pruned
    store(trace("new"))
    assert [json.loads(line)["query"] for line in store.path.read_text().splitlines()] == ["new"]


def test_dynamo_store_writes_a_ttl_and_caps_the_size(local_aws: LocalAws) -> None:
    settings = local_aws.settings.model_copy(
        update={"traces_table_name": "traces", "traces_retention_days": 3}
    )
    client = aws_client("dynamodb", settings)
    client.create_table(
        TableName="traces",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sink = make_trace_sink(settings)
    assert isinstance(sink, DynamoTraceStore)
    sink(trace("small"))
    huge = trace("huge", prompt="x" * (MAX_TRACE_BYTES + 50_000))
    sink(huge)
    small = client.get_item(TableName="traces", Key={"pk": {"S": "t-small"}})["Item"]
    assert RagTrace.model_validate_json(small["trace"]["S"]) == trace("small")
    expires = int(small["expires_at"]["N"])
    assert abs(expires - (time.time() + 3 * 86_400)) < 60
    stored = client.get_item(TableName="traces", Key={"pk": {"S": "t-huge"}})["Item"]["trace"]["S"]
    assert len(stored.encode()) <= MAX_TRACE_BYTES
    assert RagTrace.model_validate_json(stored).messages[-1].content == "huge"  # the system prompt went first


def test_cli_traces_shows_recent_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "state"
    store = JsonlTraceStore(home / "traces.jsonl", retention_days=30)
    store(trace("first question"))
    store(trace("second question"))
    code, out, _ = run(capsys, home, "traces", "--limit", "1", "--json")
    assert code == 0
    (shown,) = json.loads(out)
    assert shown["query"] == "second question" and shown["latency_ms"]["generate"] == 12.0
    code, out, _ = run(capsys, home, "traces")
    assert code == 0 and "second question" in out and "first question" in out
    assert datetime.fromisoformat(shown["recorded_at"]) <= datetime.now(UTC)
