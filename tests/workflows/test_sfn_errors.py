import json
import random
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import ANY

import pytest
from sfn_testing import FakeSleep, lambda_task, run, single

from llm_twin.workflows import history
from llm_twin.workflows.failures import RUNTIME, Retrier, StatesError, error_matches


class ErrorA(Exception):
    pass


class ErrorB(Exception):
    pass


class ErrorC(Exception):
    pass


def failing(*errors: type[Exception], then: Any = "done") -> Callable[[Any, Any], Any]:
    """A handler that raises the given errors on successive calls, then returns ``then``."""
    pending: Iterator[type[Exception]] = iter(errors)

    def handler(event: Any, context: Any) -> Any:
        error = next(pending, None)
        if error is not None:
            raise error(f"{error.__name__} on purpose")
        return then

    return handler


def test_backoff_defaults_are_1_s_3_attempts_and_rate_2() -> None:
    sleep = FakeSleep()
    definition = single(lambda_task("fn", Retry=[{"ErrorEquals": ["States.ALL"]}]))
    execution = run(definition, {}, {"fn": failing(ErrorA, ErrorA, ErrorA, ErrorA)}, sleep=sleep)
    assert execution.error == "ErrorA"
    assert sleep.calls == [1, 2, 4]
    assert execution.attempts("S") == 4


def test_backoff_sequence_with_max_delay() -> None:
    sleep = FakeSleep()
    retry = {
        "ErrorEquals": ["ErrorA"],
        "IntervalSeconds": 2,
        "MaxAttempts": 4,
        "BackoffRate": 3,
        "MaxDelaySeconds": 10,
    }
    definition = single(lambda_task("fn", Retry=[retry]))
    execution = run(definition, {}, {"fn": failing(ErrorA, ErrorA, ErrorA, ErrorA)}, sleep=sleep)
    assert execution.status == "SUCCEEDED"
    assert sleep.calls == [2, 6, 10, 10]
    retries = execution.events_of(history.RETRY_SCHEDULED, "S")
    assert [(e.details["retry"], e.details["delay_seconds"]) for e in retries] == [
        (1, 2),
        (2, 6),
        (3, 10),
        (4, 10),
    ]


def test_full_jitter_draws_each_wait_between_zero_and_the_backoff() -> None:
    sleep = FakeSleep()
    retry = {"ErrorEquals": ["ErrorA"], "IntervalSeconds": 2, "MaxAttempts": 3, "JitterStrategy": "FULL"}
    definition = single(lambda_task("fn", Retry=[retry]))
    run(definition, {}, {"fn": failing(ErrorA, ErrorA, ErrorA)}, sleep=sleep, rng=random.Random(7))
    expected_rng = random.Random(7)
    assert sleep.calls == [expected_rng.uniform(0, cap) for cap in (2, 4, 8)]
    assert all(0 <= wait <= cap for wait, cap in zip(sleep.calls, (2, 4, 8), strict=True))


def test_max_attempts_zero_never_retries() -> None:
    sleep = FakeSleep()
    definition = single(lambda_task("fn", Retry=[{"ErrorEquals": ["ErrorA"], "MaxAttempts": 0}]))
    assert run(definition, {}, {"fn": failing(ErrorA)}, sleep=sleep).error == "ErrorA"
    assert sleep.calls == []


def test_only_the_first_matching_retrier_applies() -> None:
    """The developer guide's example: errors A, B, C, B; the fourth goes to the catcher."""
    sleep = FakeSleep()
    state = lambda_task(
        "fn",
        Retry=[
            {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
            {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
        ],
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
    )
    definition = single(state, Z={"Type": "Pass", "End": True})
    execution = run(definition, {}, {"fn": failing(ErrorA, ErrorB, ErrorC, ErrorB)}, sleep=sleep)
    assert sleep.calls == [1, 2, 5]
    assert execution.output["Error"] == "ErrorB"
    assert json.loads(execution.output["Cause"])["errorMessage"] == "ErrorB on purpose"
    assert execution.events_of(history.ERROR_CAUGHT)[0].details["next"] == "Z"


def test_the_retry_count_is_in_the_context_object() -> None:
    seen: list[int] = []

    def handler(event: Any, context: Any) -> None:
        seen.append(event["retry"])
        if len(seen) < 3:
            raise ErrorA

    state = lambda_task("fn", Retry=[{"ErrorEquals": ["ErrorA"]}])
    state["Parameters"]["Payload"] = {"retry.$": "$$.State.RetryCount"}
    del state["Parameters"]["Payload.$"]
    run(single(state), {}, {"fn": handler})
    assert seen == [0, 1, 2]


ERROR_A = {"Error": "ErrorA", "Cause": ANY}


@pytest.mark.parametrize(
    ("catchers", "expected"),
    [
        ([{"ErrorEquals": ["ErrorA"], "Next": "Handled"}], ERROR_A),
        (
            [{"ErrorEquals": ["ErrorA"], "ResultPath": "$.error", "Next": "Handled"}],
            {"in": 1, "error": ERROR_A},
        ),
        ([{"ErrorEquals": ["ErrorA"], "ResultPath": None, "Next": "Handled"}], {"in": 1}),
        (
            [
                {"ErrorEquals": ["Other"], "Next": "Wrong"},
                {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Handled"},
                {"ErrorEquals": ["States.ALL"], "Next": "Wrong"},
            ],
            {"in": 1, "error": ERROR_A},
        ),
    ],
)
def test_the_first_matching_catcher_routes_the_error(
    catchers: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    definition = single(
        lambda_task("fn", Catch=catchers),
        Handled={"Type": "Pass", "End": True},
        Wrong={"Type": "Fail", "Error": "WrongCatcher"},
    )
    execution = run(definition, {"in": 1}, {"fn": failing(ErrorA)})
    assert execution.status == "SUCCEEDED", execution.error
    assert execution.output == expected


def test_states_all_neither_retries_nor_catches_a_runtime_error() -> None:
    """States.Runtime 'isn't retriable, and will always cause the execution to fail' (AWS guide)."""
    state = lambda_task(
        "fn",
        ResultSelector={"missing.$": "$.Payload.missing"},
        Retry=[{"ErrorEquals": ["States.ALL"]}],
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
    )
    execution = run(single(state, Caught={"Type": "Succeed"}), {}, {"fn": lambda event, context: {}})
    assert (execution.status, execution.error) == ("FAILED", RUNTIME)
    assert execution.attempts("S") == 1
    assert execution.events_of(history.STATE_FAILED, "S")[0].details["error"] == RUNTIME


@pytest.mark.parametrize(
    ("error_equals", "error", "matched"),
    [
        (["States.ALL"], "Anything", True),
        (["States.ALL"], "States.Timeout", True),
        (["States.ALL"], "States.Runtime", False),
        (["States.ALL"], "States.DataLimitExceeded", False),
        (["States.TaskFailed"], "Lambda.ServiceException", True),
        (["States.TaskFailed"], "States.Permissions", True),
        (["States.TaskFailed"], "States.Timeout", False),
        (["States.Timeout"], "States.Timeout", True),
        (["States.Runtime"], "States.Runtime", False),
        (["ErrorA", "ErrorB"], "ErrorB", True),
        (["ErrorA"], "errora", False),
    ],
)
def test_error_matching(error_equals: list[str], error: str, matched: bool) -> None:
    assert error_matches(error_equals, StatesError(error)) is matched


def test_retrier_delay() -> None:
    retrier = Retrier.from_asl(
        {"ErrorEquals": ["X"], "IntervalSeconds": 3, "BackoffRate": 1.5, "MaxDelaySeconds": 5}
    )
    assert [retrier.delay(n, random.Random()) for n in range(3)] == [3, 4.5, 5]
