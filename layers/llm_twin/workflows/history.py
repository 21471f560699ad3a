"""The result of a local execution and its event history (for debugging and tests)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["SUCCEEDED", "FAILED", "TIMED_OUT"]

# Event types. ``scope`` tells where a nested event happened: "" at the top level, "CrawlLinks[2]" in the
# third iteration of the Map state CrawlLinks, "Fan[1]/Inner[0]" for nested Parallel/Map states. Events of
# a Distributed Map's child executions also carry ``child_execution`` (the child's name): on AWS they are
# in the child's own history, and the parent's history only has MapRunStarted/MapRunSucceeded.
EXECUTION_STARTED = "ExecutionStarted"
EXECUTION_SUCCEEDED = "ExecutionSucceeded"
EXECUTION_FAILED = "ExecutionFailed"
EXECUTION_TIMED_OUT = "ExecutionTimedOut"
STATE_ENTERED = "StateEntered"  # details: input
STATE_EXITED = "StateExited"  # details: output
STATE_FAILED = "StateFailed"  # details: error, cause (not caught: the error leaves the state)
TASK_SCHEDULED = "TaskScheduled"  # details: resource, function, parameters, attempt
TASK_SUCCEEDED = "TaskSucceeded"  # details: output
TASK_FAILED = "TaskFailed"  # details: error, cause
RETRY_SCHEDULED = "RetryScheduled"  # details: error, retry (1 = first retry), delay_seconds
ERROR_CAUGHT = "ErrorCaught"  # details: error, cause, next
WAIT_STARTED = "WaitStarted"  # details: seconds
ITERATION_STARTED = "IterationStarted"  # Map iteration or Parallel branch; details: index
ITERATION_SUCCEEDED = "IterationSucceeded"
ITERATION_FAILED = "IterationFailed"  # details: error, cause
ITERATION_ABORTED = "IterationAborted"  # a sibling failed first
MAP_RUN_STARTED = "MapRunStarted"  # a Distributed Map; details: map_run_arn, items, max_concurrency
MAP_RUN_SUCCEEDED = "MapRunSucceeded"  # details: map_run_arn, counts (succeeded / failed / aborted)
MAP_RUN_FAILED = "MapRunFailed"  # details: map_run_arn, counts, error, cause


@dataclass(frozen=True)
class HistoryEvent:
    id: int
    type: str
    timestamp: datetime
    state: str | None = None
    scope: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    child_execution: str | None = None  # the Distributed Map child execution it belongs to, if any


@dataclass
class Execution:
    execution_arn: str
    name: str
    status: Status
    input: Any
    start_date: datetime
    stop_date: datetime
    output: Any = None
    error: str | None = None
    cause: str | None = None
    events: list[HistoryEvent] = field(default_factory=list)

    def events_of(self, event_type: str, state: str | None = None) -> list[HistoryEvent]:
        return [e for e in self.events if e.type == event_type and (state is None or e.state == state)]

    def parent_events(self) -> list[HistoryEvent]:
        """The events AWS keeps in this execution's own history (not its Distributed Map children's):
        what counts against a Standard execution's 25,000-event limit."""
        return [e for e in self.events if e.child_execution is None]

    def child_executions(self) -> set[str]:
        """Names of the Distributed Map child executions that ran."""
        return {e.child_execution for e in self.events if e.child_execution is not None}

    def attempts(self, state: str, scope: str | None = None) -> int:
        """How many times a Task state invoked its resource (in one scope, or summed over all)."""
        return sum(1 for e in self.events_of(TASK_SCHEDULED, state) if scope is None or e.scope == scope)


class Recorder:
    """Collects events from every thread of one execution, numbered in the order they happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[HistoryEvent] = []

    def record(
        self,
        event_type: str,
        state: str | None = None,
        scope: str = "",
        child_execution: str | None = None,
        **details: Any,
    ) -> None:
        with self._lock:
            self.events.append(
                HistoryEvent(
                    len(self.events) + 1,
                    event_type,
                    datetime.now(UTC),
                    state,
                    scope,
                    details,
                    child_execution,
                )
            )


def iso_timestamp(moment: datetime) -> str:
    """The context object's time format: ``2019-03-26T20:14:13.192Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
