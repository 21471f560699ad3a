"""Step Functions errors: their names, which Retry/Catch rules match them, and the retry backoff.

Semantics follow the AWS Step Functions developer guide, "Handling errors in Step Functions workflows"
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):

- ``States.ALL`` "A wildcard that matches any known error name", but it "can't catch the
  States.DataLimitExceeded terminal error or Runtime error types".
- ``States.Runtime``: "A States.Runtime error isn't retriable, and will always cause the execution to
  fail. A retry or catch on States.ALL won't catch States.Runtime errors." Bad paths, invalid intrinsic
  arguments and the like raise it. This runner never retries or catches it, even when named explicitly.
- ``States.DataLimitExceeded``: "A terminal error that can't be caught by the States.ALL error type."
  Treated like States.Runtime: it always fails the execution.
- ``States.TaskFailed``: "When used in a retry or catch, States.TaskFailed acts as a wildcard that matches
  any known error name except for States.Timeout."
- Retriers are scanned in order and only the *first* retrier whose ErrorEquals matches is used; when that
  retrier has no attempts left the error goes to Catch (the guide's ErrorA/ErrorB/ErrorC example).
  Each retrier counts its own attempts, from zero every time the state is entered.
- IntervalSeconds defaults to 1, MaxAttempts to 3 (0 = never retry), BackoffRate to 2.0. The n-th retry
  (n from 0) waits ``IntervalSeconds * BackoffRate ** n`` seconds, capped by MaxDelaySeconds; with
  ``JitterStrategy: FULL`` the wait is drawn uniformly between 0 and that value.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
# Distributed Map: reading the items, exporting the results, too many failed child executions.
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"

# Errors that no Retry or Catch ever handles: they end the execution.
TERMINAL_ERRORS = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class DefinitionError(ValueError):
    """The state machine definition is invalid (AWS would reject it at CreateStateMachine)."""


class UnsupportedFeatureError(NotImplementedError):
    """The definition is valid ASL but uses a feature this local runner does not implement."""


class StatesError(Exception):
    """An error as Step Functions reports it: a name (what Retry/Catch match) and an optional cause."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    @property
    def terminal(self) -> bool:
        return self.error in TERMINAL_ERRORS

    def as_output(self) -> dict[str, str]:
        """The error object a Catch passes on (``{"Error", "Cause"}``; a missing part is an empty string)."""
        return {"Error": self.error, "Cause": self.cause or ""}


def runtime_error(message: str) -> StatesError:
    return StatesError(RUNTIME, message)


def error_matches(error_equals: Sequence[str], error: StatesError) -> bool:
    """Whether a Retrier's or Catcher's ErrorEquals list matches ``error``."""
    if error.terminal:
        return False
    name = error.error
    if name in error_equals or ALL in error_equals:
        return True
    return TASK_FAILED in error_equals and name != TIMEOUT


@dataclass(frozen=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    full_jitter: bool = False

    @classmethod
    def from_asl(cls, spec: Mapping[str, Any]) -> Retrier:
        return cls(
            error_equals=tuple(spec["ErrorEquals"]),
            interval_seconds=spec.get("IntervalSeconds", 1),
            max_attempts=spec.get("MaxAttempts", 3),
            backoff_rate=spec.get("BackoffRate", 2.0),
            max_delay_seconds=spec.get("MaxDelaySeconds"),
            full_jitter=spec.get("JitterStrategy", "NONE") == "FULL",
        )

    def delay(self, retry_index: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry_index`` (0 for the first retry)."""
        delay = self.interval_seconds * self.backoff_rate**retry_index
        if self.max_delay_seconds is not None:
            delay = min(delay, self.max_delay_seconds)
        return rng.uniform(0, delay) if self.full_jitter else delay


class RetryState:
    """The per-entry attempt counters of a state's Retry list."""

    def __init__(self, retry_specs: Sequence[Mapping[str, Any]]) -> None:
        self._retriers = [Retrier.from_asl(spec) for spec in retry_specs]
        self._used = [0] * len(self._retriers)

    def next_delay(self, error: StatesError, rng: random.Random) -> float | None:
        """The wait before retrying after ``error``, or None when the error must not be retried."""
        for index, retrier in enumerate(self._retriers):
            if not error_matches(retrier.error_equals, error):
                continue
            if self._used[index] >= retrier.max_attempts:
                return None
            self._used[index] += 1
            return retrier.delay(self._used[index] - 1, rng)
        return None

    @property
    def retry_count(self) -> int:
        return sum(self._used)
