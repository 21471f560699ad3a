import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sfn_testing import lambda_task, run, single

from llm_twin.workflows import history
from llm_twin.workflows.failures import RUNTIME


class Concurrency:
    """Counts how many handler calls run at once. The first ``expected`` calls wait for each other at a
    barrier, which proves that many really run together (a lower limit breaks the barrier)."""

    def __init__(self, expected: int) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls: list[Any] = []
        self.barrier = threading.Barrier(expected, timeout=5)

    def handler(self, event: Any, context: Any) -> Any:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.calls.append(event)
            first_wave = len(self.calls) <= self.barrier.parties
        try:
            if first_wave:
                self.barrier.wait()
            time.sleep(0.005)
            return event
        finally:
            with self.lock:
                self.running -= 1


def map_state(processor_state: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Item", "States": {"Item": processor_state}},
        "End": True,
        **fields,
    }


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_max_concurrency_is_reached_and_never_exceeded(limit: int) -> None:
    counter = Concurrency(expected=limit)
    definition = single(map_state(lambda_task("fn", OutputPath="$.Payload"), MaxConcurrency=limit))
    execution = run(definition, list(range(8)), {"fn": counter.handler})
    assert execution.status == "SUCCEEDED", execution.cause
    assert counter.peak == limit
    assert execution.output == list(range(8))


def test_max_concurrency_path() -> None:
    counter = Concurrency(expected=2)
    state = map_state(
        lambda_task("fn", OutputPath="$.Payload"), ItemsPath="$.items", MaxConcurrencyPath="$.limit"
    )
    execution = run(single(state), {"items": list(range(6)), "limit": 2}, {"fn": counter.handler})
    assert execution.status == "SUCCEEDED", execution.cause
    assert counter.peak == 2


@pytest.mark.parametrize("limit", [-1, 1.5, "2", None])
def test_max_concurrency_path_must_select_a_non_negative_integer(limit: Any) -> None:
    state = map_state({"Type": "Pass", "End": True}, ItemsPath="$.items", MaxConcurrencyPath="$.limit")
    assert run(single(state), {"items": [1], "limit": limit}).error == RUNTIME


def test_max_concurrency_zero_runs_every_iteration_at_once() -> None:
    counter = Concurrency(expected=6)
    definition = single(map_state(lambda_task("fn"), MaxConcurrency=0))
    assert run(definition, list(range(6)), {"fn": counter.handler}).status == "SUCCEEDED"
    assert counter.peak == 6


def test_max_workers_caps_the_threads() -> None:
    counter = Concurrency(expected=2)
    definition = single(map_state(lambda_task("fn")))
    assert run(definition, list(range(6)), {"fn": counter.handler}, max_workers=2).status == "SUCCEEDED"
    assert counter.peak == 2


def test_results_are_in_input_order_whatever_finishes_first() -> None:
    def handler(event: Any, context: Any) -> Any:
        time.sleep(0.002 * (10 - event))
        return event * 10

    definition = single(map_state(lambda_task("fn", OutputPath="$.Payload")))
    assert run(definition, list(range(10)), {"fn": handler}).output == [n * 10 for n in range(10)]


def test_item_selector_items_path_and_result_path() -> None:
    state = map_state(
        {"Type": "Pass", "End": True},
        ItemsPath="$.targets",
        ItemSelector={"run.$": "$.run_id", "target.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        ResultSelector={"count.$": "States.ArrayLength($)", "items.$": "$"},
        ResultPath="$.reports",
    )
    output = run(single(state), {"run_id": "r1", "targets": ["a", "b"]}).output
    assert output == {
        "run_id": "r1",
        "targets": ["a", "b"],
        "reports": {
            "count": 2,
            "items": [{"run": "r1", "target": "a", "index": 0}, {"run": "r1", "target": "b", "index": 1}],
        },
    }


def test_legacy_parameters_and_iterator() -> None:
    state = {
        "Type": "Map",
        "Parameters": {"value.$": "$$.Map.Item.Value"},
        "Iterator": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
        "End": True,
    }
    assert run(single(state), [1, 2]).output == [{"value": 1}, {"value": 2}]


def test_empty_items_give_an_empty_list_and_non_arrays_fail() -> None:
    state = map_state({"Type": "Pass", "End": True}, ItemsPath="$.items")
    assert run(single(state), {"items": []}).output == []
    assert run(single(state), {"items": "nope"}).error == RUNTIME


def fail_on(bad: int, calls: list[int]) -> Callable[[Any, Any], Any]:
    def handler(event: Any, context: Any) -> Any:
        calls.append(event)
        if event == bad:
            raise ValueError(f"item {event} is bad")
        return event

    return handler


def test_a_failing_iteration_fails_the_map_and_stops_the_rest() -> None:
    calls: list[int] = []
    definition = single(map_state(lambda_task("fn"), MaxConcurrency=1))
    execution = run(definition, list(range(10)), {"fn": fail_on(2, calls)})
    assert (execution.status, execution.error) == ("FAILED", "ValueError")
    assert calls == [0, 1, 2]  # iterations after the failure never started
    failed = execution.events_of(history.ITERATION_FAILED, "S")
    assert [(event.scope, event.details["error"]) for event in failed] == [("S[2]", "ValueError")]


def test_a_catch_on_the_map_handles_an_iteration_error() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}]
    state = map_state(lambda_task("fn"), ItemsPath="$.items", Catch=catch)
    definition = single(state, Recover={"Type": "Pass", "End": True})
    execution = run(definition, {"items": [1, 2, 3]}, {"fn": fail_on(2, [])})
    assert execution.status == "SUCCEEDED"
    assert execution.output["items"] == [1, 2, 3]
    assert execution.output["error"]["Error"] == "ValueError"
    assert json.loads(execution.output["error"]["Cause"])["errorMessage"] == "item 2 is bad"


def test_an_error_caught_inside_the_iteration_does_not_fail_the_map() -> None:
    processor = {
        "StartAt": "Item",
        "States": {
            "Item": lambda_task(
                "fn",
                OutputPath="$.Payload",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            ),
            "Failed": {"Type": "Pass", "Parameters": {"failed.$": "$.error.Error"}, "End": True},
        },
    }
    state = {
        "Type": "Map",
        "ItemSelector": {"n.$": "$$.Map.Item.Value"},
        "ItemProcessor": processor,
        "End": True,
    }

    def handler(event: Any, context: Any) -> Any:
        if event["n"] == 2:
            raise KeyError("n")
        return event["n"]

    execution = run(single(state), [1, 2, 3], {"fn": handler})
    assert execution.output == [1, {"failed": "KeyError"}, 3]


def test_parallel_runs_every_branch_on_the_same_input() -> None:
    def branch(result: Any) -> dict[str, Any]:
        return {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": result, "End": True}}}

    state = {
        "Type": "Parallel",
        "Parameters": {"shared.$": "$.x"},
        "Branches": [
            branch("first"),
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
            branch(3),
        ],
        "ResultSelector": {"all.$": "$"},
        "ResultPath": "$.parallel",
        "End": True,
    }
    output = run(single(state), {"x": 1}).output
    assert output == {"x": 1, "parallel": {"all": ["first", {"shared": 1}, 3]}}


def test_parallel_branches_run_concurrently() -> None:
    counter = Concurrency(expected=3)
    branches = [{"StartAt": "T", "States": {"T": lambda_task("fn")}} for _ in range(3)]
    definition = single({"Type": "Parallel", "Branches": branches, "End": True})
    assert run(definition, {}, {"fn": counter.handler}).status == "SUCCEEDED"
    assert counter.peak == 3


def test_a_failing_branch_fails_the_parallel_state_and_aborts_its_siblings() -> None:
    calls: list[int] = []

    def slow(event: Any, context: Any) -> Any:
        calls.append(event)
        time.sleep(0.01)
        return event

    long_branch = {"StartAt": "Many", "States": {"Many": map_state(lambda_task("slow"), MaxConcurrency=1)}}
    failing_branch = {
        "StartAt": "Boom",
        "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "bad"}},
    }
    state = {"Type": "Parallel", "Branches": [long_branch, failing_branch], "End": True}
    execution = run(single(state), list(range(100)), {"slow": slow})
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Boom", "bad")
    assert len(calls) < 100
    assert execution.events_of(history.ITERATION_ABORTED)


def test_retry_on_a_parallel_state_reruns_its_branches() -> None:
    calls: list[int] = []
    branch = {"StartAt": "T", "States": {"T": lambda_task("fn")}}
    state = {
        "Type": "Parallel",
        "Branches": [branch],
        "Retry": [{"ErrorEquals": ["ValueError"]}],
        "End": True,
    }
    failing_once = fail_on(bad=0, calls=calls)

    def handler(event: Any, context: Any) -> Any:
        return failing_once(len(calls), context)  # the first call is call 0: it fails

    execution = run(single(state), {}, {"fn": handler})
    assert execution.status == "SUCCEEDED"
    assert calls == [0, 1]
    assert execution.events_of(history.RETRY_SCHEDULED, "S")[0].details["error"] == "ValueError"
