import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sfn_testing import FakeClock, FakeSleep, lambda_task, run, single

from llm_twin.workflows import history
from llm_twin.workflows.failures import DATA_LIMIT_EXCEEDED, RUNTIME, TIMEOUT
from llm_twin.workflows.runner import LocalStateMachine

ISO_MILLIS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({}, {"a": 1, "b": {"c": 2}}),
        ({"Result": {"r": 1}}, {"r": 1}),
        ({"Result": {"r": 1}, "ResultPath": "$.b.r"}, {"a": 1, "b": {"c": 2, "r": {"r": 1}}}),
        ({"Result": {"r": 1}, "ResultPath": None}, {"a": 1, "b": {"c": 2}}),
        ({"Parameters": {"x.$": "$.a", "lit": [{"y.$": "$.b.c"}, 3]}}, {"x": 1, "lit": [{"y": 2}, 3]}),
        ({"Parameters": {"x": 1}, "Result": "wins"}, "wins"),
        (
            {"InputPath": "$.b", "Parameters": {"c.$": "$.c"}, "ResultPath": "$.out"},
            {"a": 1, "b": {"c": 2}, "out": {"c": 2}},
        ),
        ({"InputPath": "$.b", "OutputPath": "$.c"}, 2),
        ({"InputPath": None}, {}),
        ({"OutputPath": None}, {}),
    ],
)
def test_pass(state: dict[str, Any], expected: Any) -> None:
    execution = run(single({"Type": "Pass", "End": True, **state}), {"a": 1, "b": {"c": 2}})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == expected


def test_task_input_and_output_processing_order() -> None:
    """InputPath -> Parameters -> task -> ResultSelector -> ResultPath (on the raw input) -> OutputPath."""
    received: list[Any] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        received.append(event)
        return {"value": event["value"] * 10, "noise": True}

    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "InputPath": "$.job",
        "Parameters": {"FunctionName": "fn", "Payload": {"value.$": "$.n"}},
        "ResultSelector": {"result.$": "$.Payload.value", "status.$": "$.StatusCode"},
        "ResultPath": "$.job.outcome",
        "OutputPath": "$.job",
        "End": True,
    }
    execution = run(single(state), {"job": {"n": 4}, "other": 1}, {"fn": handler})
    assert received == [{"value": 4}]
    assert execution.output == {"n": 4, "outcome": {"result": 40, "status": 200}}


def test_the_context_object() -> None:
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {
                    "index.$": "$$.Map.Item.Index",
                    "value.$": "$$.Map.Item.Value",
                    "state.$": "$$.State.Name",
                    "execution_id.$": "$$.Execution.Id",
                    "execution_name.$": "$$.Execution.Name",
                    "execution_input.$": "$$.Execution.Input",
                    "started.$": "$$.Execution.StartTime",
                    "entered.$": "$$.State.EnteredTime",
                    "machine.$": "$$.StateMachine.Id",
                },
                "ItemProcessor": {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    machine = LocalStateMachine(definition, {}, name="ctx", region="eu-west-1", account_id="111122223333")
    output = machine.execute({"items": ["a", "b"]}, name="run-1").output
    assert [(o["index"], o["value"], o["state"]) for o in output] == [
        (0, "a", "Describe"),
        (1, "b", "Describe"),
    ]
    first = output[0]
    assert first["execution_id"] == "arn:aws:states:eu-west-1:111122223333:execution:ctx:run-1"
    assert first["execution_name"] == "run-1"
    assert first["execution_input"] == {"items": ["a", "b"]}
    assert first["machine"] == "arn:aws:states:eu-west-1:111122223333:stateMachine:ctx"
    assert ISO_MILLIS.fullmatch(first["started"]) and ISO_MILLIS.fullmatch(first["entered"])


def test_wait_sleeps_through_the_injected_sleep() -> None:
    future = (datetime.now(UTC) + timedelta(seconds=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    definition = {
        "StartAt": "Seconds",
        "States": {
            "Seconds": {"Type": "Wait", "Seconds": 5, "Next": "SecondsPath"},
            "SecondsPath": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Past"},
            "Past": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "Next": "Future"},
            "Future": {"Type": "Wait", "TimestampPath": "$.until", "OutputPath": "$.delay", "End": True},
        },
    }
    sleep = FakeSleep()
    execution = run(definition, {"delay": 7, "until": future}, sleep=sleep)
    assert execution.output == 7
    assert sleep.calls[:2] == [5, 7]
    assert len(sleep.calls) == 3 and 95 < sleep.calls[2] <= 100  # the past timestamp does not wait


@pytest.mark.parametrize("delay", [-1, 1.5, "10", None])
def test_wait_seconds_path_needs_a_non_negative_integer(delay: Any) -> None:
    execution = run(single({"Type": "Wait", "SecondsPath": "$.delay", "End": True}), {"delay": delay})
    assert execution.error == RUNTIME


def test_succeed_applies_input_and_output_paths() -> None:
    state = {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}
    assert run(single(state), {"a": {"b": [1]}}).output == [1]


@pytest.mark.parametrize(
    ("state", "error", "cause"),
    [
        ({"Error": "Boom", "Cause": "it broke"}, "Boom", "it broke"),
        ({"Error": "Boom"}, "Boom", None),
        ({"ErrorPath": "$.e", "CausePath": "$.c"}, "FromInput", "because"),
        ({"ErrorPath": "$$.State.Name", "CausePath": "States.Format('code {}', $.code)"}, "S", "code 7"),
    ],
)
def test_fail(state: dict[str, Any], error: str, cause: str | None) -> None:
    execution = run(single({"Type": "Fail", **state}), {"e": "FromInput", "c": "because", "code": 7})
    assert (execution.status, execution.error, execution.cause) == ("FAILED", error, cause)
    assert execution.output is None


@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Pass", "InputPath": "$.missing", "End": True},
        {"Type": "Pass", "OutputPath": "$.missing", "End": True},
        {"Type": "Pass", "Parameters": {"x.$": "$.missing"}, "End": True},
        {"Type": "Pass", "Result": 1, "ResultPath": "$.text.x", "End": True},
        {"Type": "Pass", "Parameters": {"x.$": "States.StringToJson($.text)"}, "End": True},
    ],
)
def test_path_and_intrinsic_failures_are_runtime_errors(state: dict[str, Any]) -> None:
    execution = run(single(state), {"text": "not json"})
    assert (execution.status, execution.error) == ("FAILED", RUNTIME)


def test_a_state_output_over_256_kib_fails_the_execution() -> None:
    definition = single({"Type": "Pass", "Parameters": {"big.$": "$.big"}, "End": True})
    big = "x" * (256 * 1024)
    assert run(definition, {"big": big}).error == DATA_LIMIT_EXCEEDED
    assert run(definition, {"big": big}, payload_limit_bytes=None).status == "SUCCEEDED"


def test_a_task_result_over_256_kib_cannot_be_caught() -> None:
    state = lambda_task(
        "fn",
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
        Retry=[{"ErrorEquals": ["States.ALL"]}],
    )
    definition = single(state, Caught={"Type": "Succeed"})
    execution = run(definition, {}, {"fn": lambda event, context: "x" * 300_000})
    assert execution.error == DATA_LIMIT_EXCEEDED
    assert execution.attempts("S") == 1


def test_the_execution_times_out_softly_between_states() -> None:
    clock = FakeClock()
    definition = {
        "TimeoutSeconds": 10,
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 11, "Next": "Never"},
            "Never": {"Type": "Pass", "End": True},
        },
    }
    execution = run(definition, {}, sleep=clock.advance, clock=clock)
    assert (execution.status, execution.error) == ("TIMED_OUT", TIMEOUT)
    assert not execution.events_of(history.STATE_ENTERED, "Never")
    assert execution.events[-1].type == history.EXECUTION_TIMED_OUT


def test_a_slow_task_fails_with_states_timeout_which_task_failed_does_not_match() -> None:
    clock = FakeClock()

    def slow(event: Any, context: Any) -> str:
        clock.advance(61)
        return "late"

    catchers = [
        {"ErrorEquals": ["States.TaskFailed"], "Next": "TaskFailed"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Timeout"},
    ]
    definition = single(
        lambda_task("fn", TimeoutSeconds=60, Catch=catchers),
        TaskFailed={"Type": "Fail", "Error": "WrongCatcher"},
        Timeout={"Type": "Pass", "End": True},
    )
    execution = run(definition, {"in": 1}, {"fn": slow}, clock=clock)
    assert execution.status == "SUCCEEDED"
    assert execution.output["error"]["Error"] == TIMEOUT


def test_the_history_records_the_run() -> None:
    definition = single(lambda_task("fn", Next="Done"), Done={"Type": "Succeed"})
    execution = run(definition, {"x": 1}, {"fn": echo})
    types = [(event.type, event.state) for event in execution.events]
    assert types == [
        (history.EXECUTION_STARTED, None),
        (history.STATE_ENTERED, "S"),
        (history.TASK_SCHEDULED, "S"),
        (history.TASK_SUCCEEDED, "S"),
        (history.STATE_EXITED, "S"),
        (history.STATE_ENTERED, "Done"),
        (history.STATE_EXITED, "Done"),
        (history.EXECUTION_SUCCEEDED, None),
    ]
    assert [event.id for event in execution.events] == list(range(1, 9))
    assert execution.events_of(history.TASK_SCHEDULED)[0].details["payload"] == {"x": 1}


def echo(event: Any, context: Any) -> Any:
    return event
