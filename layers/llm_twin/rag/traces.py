"""Where prompt traces go: the traces table on AWS (TTL = retention), a JSONL file locally."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from llm_twin.local.clients import aws_client
from llm_twin.rag.trace import RagTrace
from llm_twin.settings import Settings

MAX_TRACE_BYTES = 350_000  # DynamoDB items cap at 400 KB; the prompt is cut first if needed


class JsonlTraceStore:
    """``<home>/traces.jsonl``: one trace per line, appended. The file is rewritten without the expired
    entries only when its first (oldest) line has expired, so a write costs one append, not a copy."""

    def __init__(self, path: Path, retention_days: int) -> None:
        self.path = path
        self._retention = timedelta(days=retention_days)
        self._lock = threading.Lock()

    def __call__(self, trace: RagTrace) -> None:
        now = datetime.now(UTC)
        line = json.dumps({"recorded_at": now.isoformat(), **trace.model_dump(mode="json")})
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self._oldest_expired(now):
                kept = [entry for entry in self._lines() if _recorded(entry) >= now - self._retention]
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text("".join(entry + "\n" for entry in [*kept, line]))
                tmp.replace(self.path)
                return
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def _oldest_expired(self, now: datetime) -> bool:
        if not self.path.exists():
            return False
        with self.path.open(encoding="utf-8") as fh:
            first = fh.readline().strip()
        return bool(first) and _recorded(first) < now - self._retention

    def _lines(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text().splitlines() if line.strip()]

    def recent(self, limit: int = 10) -> list[dict[str, object]]:
        cutoff = datetime.now(UTC) - self._retention
        kept = [line for line in self._lines() if _recorded(line) >= cutoff]
        return [json.loads(line) for line in kept[-limit:]][::-1]


class DynamoTraceStore:
    """The traces table (pk = trace id, ``expires_at`` = TTL epoch seconds)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __call__(self, trace: RagTrace) -> None:
        body = trace.model_dump_json()
        if len(body.encode()) > MAX_TRACE_BYTES:
            trace = trace.model_copy(update={"messages": trace.messages[-1:]})
            body = trace.model_dump_json()[:MAX_TRACE_BYTES]
        expires = int(time.time()) + self._settings.traces_retention_days * 86_400
        aws_client("dynamodb", self._settings).put_item(
            TableName=str(self._settings.traces_table_name),
            Item={
                "pk": {"S": trace.trace_id},
                "kind": {"S": trace.kind},
                "trace": {"S": body},
                "expires_at": {"N": str(expires)},
            },
        )


def _recorded(line: str) -> datetime:
    try:
        return datetime.fromisoformat(json.loads(line)["recorded_at"])
    except (ValueError, KeyError, TypeError):
        return datetime.min.replace(tzinfo=UTC)


def make_trace_sink(settings: Settings) -> Callable[[RagTrace], None]:
    if settings.traces_table_name:
        return DynamoTraceStore(settings)
    return JsonlTraceStore(Path(settings.home) / "traces.jsonl", settings.traces_retention_days)
