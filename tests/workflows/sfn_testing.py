"""Helpers shared by the workflow runner tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llm_twin.workflows.history import Execution
from llm_twin.workflows.runner import LocalStateMachine


class FakeSleep:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class FakeClock:
    """A monotonic clock the test moves forward (also by sleeping, when used as ``sleep``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def single(state: Mapping[str, Any], **more_states: Mapping[str, Any]) -> dict[str, Any]:
    """A definition whose first state is ``S`` (make it End or point Next at one of ``more_states``)."""
    return {"StartAt": "S", "States": {"S": dict(state), **{k: dict(v) for k, v in more_states.items()}}}


def run(
    definition: Mapping[str, Any],
    input: Any = None,
    functions: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    **options: Any,
) -> Execution:
    options.setdefault("sleep", FakeSleep())
    return LocalStateMachine(definition, functions or {}, **options).execute(input)


def lambda_task(function: str, **fields: Any) -> dict[str, Any]:
    """A ``lambda:invoke`` Task state passing its whole input as the payload."""
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
    }
    state.update(fields)
    if "Next" not in state:
        state.setdefault("End", True)
    return state
