"""The local stand-in for Lambda's DynamoDB Streams event source mapping.

It reads moto's stream from a cursor, builds the event Lambda sends (``Records[]`` with ``eventName``
and ``dynamodb.{Keys, NewImage, OldImage, SequenceNumber}``), calls the same handler in batches, and
honours its ``batchItemFailures`` as Lambda does: the batch is retried from the first failed record.

- A record that keeps failing while others succeed is a poison record: after ``max_attempts`` it is
  written to ``dead-letter.jsonl`` (the on-failure destination) and the poller moves past it.
- When a whole batch keeps failing (the index or the embedder is down), nothing is dropped: the
  records not yet applied are kept in ``pending.jsonl`` and replayed first by the next drain.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from llm_twin.features.stream_filter import matches_any
from llm_twin.local.streams import StreamCursor, read_records
from llm_twin.settings import Settings
from llm_twin.workflows.lambda_invoke import LambdaContext

Record = dict[str, Any]
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class DrainReport:
    delivered: int = 0  # records applied successfully
    invocations: int = 0
    retries: int = 0
    dead_lettered: list[str] = field(default_factory=list)  # sequence numbers
    pending: int = 0  # kept for the next drain (whole batches failing)


class StreamPoller:
    def __init__(
        self,
        settings: Settings,
        handler: Handler,
        *,
        state_dir: Path,
        batch_size: int = 100,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        function_name: str = "llm-twin-feature-indexer",
        filter_patterns: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """``filter_patterns``: the event source mapping's FilterCriteria (records matching none are
        dropped before delivery, as Lambda does); empty = deliver everything."""
        self._settings = settings
        self._handler = handler
        self._state_dir = state_dir
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._function_name = function_name
        self._filter_patterns = tuple(filter_patterns)

    @property
    def pending_path(self) -> Path:
        return self._state_dir / "pending.jsonl"

    @property
    def dead_letter_path(self) -> Path:
        return self._state_dir / "dead-letter.jsonl"

    def drain(self, cursor: StreamCursor) -> tuple[DrainReport, StreamCursor]:
        """Apply every pending record and every stream record after ``cursor``; returns the new cursor
        (past everything read: what could not be applied is in ``pending.jsonl``)."""
        fresh, end = read_records(self._settings, cursor)
        shaped = [_lambda_record(r, cursor.stream_arn, self._settings.region) for r in fresh]
        if self._filter_patterns:
            shaped = [r for r in shaped if matches_any(self._filter_patterns, r)]
        records = [*self._load_pending(), *shaped]
        report = DrainReport()
        remaining = self._deliver(records, report)
        self._save_pending(remaining)
        report.pending = len(remaining)
        return report, end

    # --- delivery ---------------------------------------------------------------------------------
    def _deliver(self, records: Sequence[Record], report: DrainReport) -> list[Record]:
        position = 0
        attempts = 0
        while position < len(records):
            batch = list(records[position : position + self._batch_size])
            failed = self._invoke(batch, report)
            if failed is None:
                report.delivered += len(batch)
                position += len(batch)
                attempts = 0
                continue
            first = next((i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed), 0)
            report.delivered += first
            position += first
            attempts = attempts + 1 if first == 0 else 1
            if attempts < self._max_attempts:
                report.retries += 1
                self._sleep(self._backoff_s * 2 ** (attempts - 1))
                continue
            if len(failed) >= len(batch):  # everything fails: an outage, not a poison record
                return list(records[position:])
            self._dead_letter(records[position])
            report.dead_lettered.append(records[position]["dynamodb"]["SequenceNumber"])
            position += 1
            attempts = 0
        return []

    def _invoke(self, batch: list[Record], report: DrainReport) -> set[str] | None:
        """Call the handler; the failed sequence numbers, or None when the whole batch succeeded."""
        report.invocations += 1
        context = LambdaContext(
            function_name=self._function_name,
            invoked_function_arn=f"arn:aws:lambda:{self._settings.region}:000000000000:function:{self._function_name}",
            aws_request_id=str(uuid.uuid4()),
            _deadline=time.monotonic() + 900,
        )
        try:
            response = self._handler({"Records": batch}, context) or {}
        except Exception:  # a raising function fails the whole batch, as on Lambda
            return {r["dynamodb"]["SequenceNumber"] for r in batch}
        failures = response.get("batchItemFailures") or []
        return {str(f["itemIdentifier"]) for f in failures} or None

    # --- files ------------------------------------------------------------------------------------
    def _load_pending(self) -> list[Record]:
        if not self.pending_path.exists():
            return []
        return [json.loads(line) for line in self.pending_path.read_text().splitlines() if line.strip()]

    def _save_pending(self, records: Sequence[Record]) -> None:
        if not records:
            self.pending_path.unlink(missing_ok=True)
            return
        self._state_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._state_dir, prefix=".pending-")
        with os.fdopen(fd, "w") as out:
            out.writelines(json.dumps(r, sort_keys=True) + "\n" for r in records)
        os.replace(tmp, self.pending_path)

    def _dead_letter(self, record: Record) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        with self.dead_letter_path.open("a") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")


def _lambda_record(record: Record, stream_arn: str, region: str) -> Record:
    """A boto3 ``GetRecords`` record in the shape the Lambda service delivers it."""
    data = dict(record["dynamodb"])
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": record.get("eventID"),
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": data,
        "eventSourceARN": stream_arn,
    }
