"""The local runner against moto's Step Functions interpreter (a port of LocalStack's, which is checked
against AWS): the same definitions (Pass, Choice, Wait, Map, Parallel, Succeed, Fail; moto cannot run our
Lambdas without Docker) must give the same status, output and error, and the same retry waits.

Where moto deviates from the AWS documentation, ``DEVIATIONS`` asserts AWS's documented behaviour for the
local runner and checks that moto still differs (when moto is fixed, move the case to ``EQUIVALENT``):

- a Choice comparison on a path that does not exist: AWS fails with States.Runtime, moto compares false;
- no Choice rule matches and no Default: AWS fails with States.NoChoiceMatched, moto with States.Runtime;
- StringMatches ignores the ``\\*`` escape in moto;
- Timestamp comparisons: moto does not compare instants across offsets, and accepts a lowercase t/z;
- intrinsics: moto drops ``null`` from States.Array, fails on escaped braces in States.Format, on
  States.ArrayUnique of objects, fails on non-ASCII text in States.Base64Encode, and rejects float literals
  (``States.MathAdd(1.5, 1)``) at CreateStateMachine, and its States.ArrayUnique takes ``true`` for ``1``;
- ``$.a[-1]``: AWS (Jayway) selects the element, moto a one-element list;
- ``$$.Execution.StartTime`` and ``$$.State.EnteredTime`` are datetime objects in moto, not timestamp
  strings (it cannot even serialise an output holding one).

moto also returns an execution output that is a JSON string without its quotes (``no`` for ``"no"``);
``Moto.run`` reads such an output as the string.

Noted, not tested: moto's States.MathRandom includes the end value (AWS: "end number (exclusive)");
moto's States.TaskFailed only matches error names outside ``States.*`` (AWS: anything but States.Timeout);
moto's States.ALL would catch States.Runtime (AWS never does) but a States.Runtime error from a Parallel
branch trips an internal moto error that still fails the execution with States.Runtime.
"""

from __future__ import annotations

import json
import time
import types
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from sfn_testing import FakeSleep

from llm_twin.workflows.runner import LocalStateMachine

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
EXECUTION = "exec-1"


class Moto:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.sleeps: list[float] = []
        self.count = 0

    def unique_name(self, case: str) -> str:
        """State machine names must be unique in moto's account; the local machine gets the same name."""
        self.count += 1
        return f"{case}-{self.count}"

    def run(self, name: str, definition: dict[str, Any], input: Any) -> dict[str, Any]:
        self.sleeps.clear()
        try:
            arn = self.client.create_state_machine(
                name=name,
                definition=json.dumps(definition),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
            )["stateMachineArn"]
            execution_arn = self.client.start_execution(
                stateMachineArn=arn, name=EXECUTION, input=json.dumps(input)
            )["executionArn"]
            deadline = time.monotonic() + 20
            while (described := self.client.describe_execution(executionArn=execution_arn))[
                "status"
            ] == "RUNNING":
                assert time.monotonic() < deadline, "moto's execution did not finish"
                time.sleep(0.01)
        except (ClientError, TypeError) as exc:  # moto rejected the definition or crashed
            return {"status": "MOTO_ERROR", "detail": str(exc)[:200]}
        return {
            "status": described["status"],
            "output": _parse_output(described.get("output")),
            "error": described.get("error"),
            "cause": described.get("cause"),
        }


def _parse_output(output: str | None) -> Any:
    if output is None:
        return None
    try:
        return json.loads(output)
    except json.JSONDecodeError:  # moto returns a string output without its JSON quotes
        return output


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(variable, value)
        patch.delenv("AWS_PROFILE", raising=False)
        with mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        ):
            runner = Moto(boto3.client("stepfunctions", region_name=REGION))
            # moto waits between retries with time.sleep: record the waits instead.
            patch.setattr(retrier_decl, "time", types.SimpleNamespace(sleep=runner.sleeps.append))
            yield runner


def run_local(name: str, definition: dict[str, Any], input: Any, sleep: FakeSleep) -> dict[str, Any]:
    machine = LocalStateMachine(
        definition, {}, name=name, region=REGION, account_id=ACCOUNT, sleep=sleep, max_workers=8
    )
    execution = machine.execute(input, name=EXECUTION)
    return {
        "status": execution.status,
        "output": execution.output,
        "error": execution.error,
        "cause": execution.cause,
    }


def states(start: str, **all_states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": start, "States": all_states}


def end(**fields: Any) -> dict[str, Any]:
    return {"Type": "Pass", "End": True, **fields}


def label(text: str) -> dict[str, Any]:
    return end(Result=text, ResultPath="$.label")


BOOM = states("Boom", Boom={"Type": "Fail", "Error": "Boom", "Cause": "it broke"})

EQUIVALENT = [
    pytest.param(
        states(
            "A",
            A={
                "Type": "Pass",
                "InputPath": "$.a",
                "Parameters": {"x.$": "$.x", "lit": [1, {"y.$": "$.y"}], "none": None},
                "ResultPath": "$.res",
                "Next": "B",
            },
            B={
                "Type": "Pass",
                "Result": {"r": [1, 2]},
                "ResultPath": "$.res.r",
                "OutputPath": "$.res",
                "Next": "C",
            },
            C={"Type": "Pass", "Result": "dropped", "ResultPath": None, "Next": "D"},
            D=end(InputPath=None, ResultPath="$.empty"),
        ),
        [{"a": {"x": 1, "y": [2]}, "keep": True}],
        id="pass-input-output-processing",
    ),
    pytest.param(
        states(
            "S",
            S=end(
                Parameters={
                    "state.$": "$$.State.Name",
                    "execution.$": "$$.Execution.Name",
                    "id.$": "$$.Execution.Id",
                    "input.$": "$$.Execution.Input",
                    "machine.$": "$$.StateMachine.Id",
                }
            ),
        ),
        [{"in": [1, {"two": 2}]}],
        id="context-object",
    ),
    pytest.param(
        states(
            "S",
            S=end(
                Parameters={
                    "wild.$": "$.a[*].b",
                    "slice.$": "$.items[1:3]",
                    "bracket.$": "$['a b']",
                    "values.$": "$.o.*",
                    "index.$": "$.items[2]",
                    "union.$": "$.items[0,2]",
                    "none.$": "$.a[*].zz",
                    "root.$": "$",
                }
            ),
        ),
        [
            {
                "a": [{"b": 1}, {"c": 2}, {"b": 3}],
                "items": [10, 20, 30, 40],
                "a b": "spaced",
                "o": {"p": 1, "q": [2]},
            }
        ],
        id="jsonpath",
    ),
    pytest.param(
        states(
            "S",
            S=end(
                Parameters={
                    "format.$": "States.Format('x={} y={} b={} z={}', $.s, $.n, $.b, $.z)",
                    "format_object.$": "States.Format('o={}', $.o)",
                    "string_to_json.$": "States.StringToJson($.json)",
                    "json_to_string.$": "States.JsonToString($.o)",
                    "array.$": "States.Array(1, 'a', $.o, true)",
                    "partition.$": "States.ArrayPartition($.nums, 4)",
                    "contains.$": "States.ArrayContains($.nums, 3)",
                    "range.$": "States.ArrayRange(1, 9, 2)",
                    "get_item.$": "States.ArrayGetItem($.nums, 2)",
                    "length.$": "States.ArrayLength($.nums)",
                    "unique.$": "States.ArrayUnique($.dups)",
                    "add.$": "States.MathAdd($.n, -10)",
                    "hash.$": "States.Hash($.s, 'SHA-256')",
                    "base64.$": "States.Base64Encode($.s)",
                    "unbase64.$": "States.Base64Decode('aGVsbG8gd29ybGQ=')",
                    "split.$": "States.StringSplit($.csv, ',;')",
                    "merge.$": "States.JsonMerge($.o, $.o2, false)",
                    "nested.$": "States.Format('{} items', States.ArrayLength(States.Array(1, 2)))",
                    "literal": "States.Format('not evaluated')",
                }
            ),
        ),
        [
            {
                "s": "hello",
                "n": 3,
                "b": True,
                "z": None,
                "o": {"k": [1, "x"], "m": "n"},
                "o2": {"k": 2},
                "json": '{"a": [1, {"b": null}]}',
                "nums": [1, 2, 3, 4, 5, 6, 7, 8, 9],
                "dups": [1, 2, 2, "2", 1],
                "csv": "a,b;;c,",
            }
        ],
        id="intrinsic-functions",
    ),
    pytest.param(
        states(
            "C",
            C={
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.kind", "IsPresent": True},
                            {"Variable": "$.kind", "StringEquals": "num"},
                            {"Variable": "$.v", "IsNumeric": True},
                            {"Variable": "$.v", "NumericGreaterThanEquals": 10},
                        ],
                        "Next": "BigNumber",
                    },
                    {"Variable": "$.v", "NumericEquals": 1, "Next": "One"},
                    {"Variable": "$.v", "IsNumeric": True, "Next": "Number"},
                    {"Variable": "$.v", "TimestampLessThan": "2025-01-01T00:00:00Z", "Next": "Past"},
                    {
                        "Or": [
                            {"Variable": "$.v", "StringMatches": "ab*"},
                            {"Variable": "$.v", "StringEqualsPath": "$.other"},
                        ],
                        "Next": "Text",
                    },
                    {"Variable": "$.v", "BooleanEquals": False, "Next": "False"},
                    {"Not": {"Variable": "$.v", "IsNull": True}, "Next": "NotNull"},
                ],
                "Default": "Other",
            },
            BigNumber=label("big number"),
            One=label("one"),
            Number=label("number"),
            Past=label("past"),
            Text=label("text"),
            NotNull=label("not null"),
            Other=label("other"),
            **{"False": label("false")},
        ),
        [
            {"kind": "num", "v": 12},
            {"kind": "num", "v": 1.0},
            {"v": 3},
            {"v": "2024-06-01T12:00:00Z"},
            {"v": "2026-06-01T12:00:00Z"},
            {"v": "abc"},
            {"v": "zzz", "other": "zzz"},
            {"v": False},
            {"v": True},
            {"v": None},
            {"v": [1]},
        ],
        id="choice-rules",
    ),
    pytest.param(
        states(
            "M",
            M={
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {
                    "value.$": "$$.Map.Item.Value",
                    "index.$": "$$.Map.Item.Index",
                    "shared.$": "$.shared",
                },
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Kind",
                    "States": {
                        "Kind": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.value", "IsString": True, "Next": "Text"}],
                            "Default": "Other",
                        },
                        "Text": {
                            "Type": "Pass",
                            "Parameters": {"text.$": "$.value", "at.$": "$.index"},
                            "End": True,
                        },
                        "Other": {"Type": "Pass", "End": True},
                    },
                },
                "ResultSelector": {"results.$": "$", "count.$": "States.ArrayLength($)"},
                "ResultPath": "$.mapped",
                "End": True,
            },
        ),
        [{"items": ["a", 2, {"c": 3}, "d"], "shared": "s"}, {"items": [], "shared": 0}],
        id="map-item-selector",
    ),
    pytest.param(
        states(
            "M",
            M={
                "Type": "Map",
                "Parameters": {"v.$": "$$.Map.Item.Value"},
                "Iterator": {"StartAt": "P", "States": {"P": end(ResultPath="$.seen")}},
                "MaxConcurrency": 1,
                "End": True,
            },
        ),
        [[1, "two", None]],
        id="map-legacy-fields",
    ),
    pytest.param(
        states(
            "M",
            M={
                "Type": "Map",
                "ItemsPath": "$.rows",
                "MaxConcurrencyPath": "$.limit",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {
                        "Inner": {
                            "Type": "Map",
                            "ItemProcessor": {
                                "StartAt": "P",
                                "States": {"P": end(Parameters={"cell.$": "$"})},
                            },
                            "End": True,
                        }
                    },
                },
                "End": True,
            },
        ),
        [{"rows": [[1, 2], [], [3]], "limit": 2}],
        id="nested-map-concurrency-path",
    ),
    pytest.param(
        states(
            "P",
            P={
                "Type": "Parallel",
                "InputPath": "$.in",
                "Parameters": {"n.$": "$.n", "items.$": "$.items"},
                "Branches": [
                    states("A", A=end(Result="a")),
                    states(
                        "B",
                        B={
                            "Type": "Map",
                            "ItemsPath": "$.items",
                            "ItemProcessor": states("I", I=end()),
                            "End": True,
                        },
                    ),
                    states(
                        "C",
                        C={
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
                            "Default": "Small",
                        },
                        Big=end(Result="big"),
                        Small=end(Result="small"),
                    ),
                ],
                "ResultSelector": {"a.$": "$[0]", "rest.$": "$[1:]"},
                "ResultPath": "$.in.out",
                "OutputPath": "$.in",
                "End": True,
            },
        ),
        [{"in": {"n": 2, "items": [1, 2]}}, {"in": {"n": 0, "items": []}}],
        id="parallel",
    ),
    pytest.param(
        states("F", F={"Type": "Fail", "Error": "Custom.Error", "Cause": "why it failed"}),
        [{}],
        id="fail",
    ),
    pytest.param(
        states(
            "F", F={"Type": "Fail", "ErrorPath": "$.code", "CausePath": "States.Format('{} failed', $.what)"}
        ),
        [{"code": "E42", "what": "import"}],
        id="fail-error-and-cause-paths",
    ),
    pytest.param(
        states(
            "P",
            P={
                "Type": "Parallel",
                "Branches": [states("A", A=end()), BOOM],
                "Catch": [
                    {"ErrorEquals": ["Other"], "Next": "Wrong"},
                    {"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "Handled"},
                ],
                "End": True,
            },
            Wrong={"Type": "Fail", "Error": "WrongCatcher"},
            Handled=end(),
        ),
        [{"in": 1}],
        id="catch-first-matching-catcher",
    ),
    pytest.param(
        states(
            "P",
            P={
                "Type": "Parallel",
                "Branches": [BOOM],
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Handled"}],
                "End": True,
            },
            Handled=end(),
        ),
        [{"in": 1}],
        id="catch-task-failed",
    ),
    pytest.param(
        states(
            "P",
            P={
                "Type": "Parallel",
                "Branches": [BOOM],
                "Retry": [
                    {
                        "ErrorEquals": ["Boom"],
                        "IntervalSeconds": 3,
                        "MaxAttempts": 3,
                        "BackoffRate": 1.5,
                        "MaxDelaySeconds": 5,
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
                "End": True,
            },
            Handled=end(),
        ),
        [{"in": 1}],
        id="retry-backoff-then-catch",
    ),
    pytest.param(
        states(
            "P",
            P={
                "Type": "Parallel",
                "Branches": [BOOM],
                "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}],
                "End": True,
            },
        ),
        [{}],
        id="retry-max-attempts-zero",
    ),
    pytest.param(
        states(
            "M",
            M={
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemProcessor": states(
                    "C",
                    C={
                        "Type": "Choice",
                        "Choices": [{"Variable": "$", "NumericEquals": 1, "Next": "Boom"}],
                        "Default": "Ok",
                    },
                    Boom={"Type": "Fail", "Error": "Boom", "Cause": "item 1"},
                    Ok=end(),
                ),
                "End": True,
            },
        ),
        [[0, 1, 2], [0, 2]],
        id="map-iteration-failure",
    ),
    pytest.param(
        states(
            "W",
            W={"Type": "Wait", "Seconds": 0, "Next": "W2"},
            W2={"Type": "Wait", "SecondsPath": "$.delay", "Next": "Done"},
            Done={"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"},
        ),
        [{"delay": 0, "a": {"b": {"c": 1}}}],
        id="wait-and-succeed",
    ),
    pytest.param(states("S", S=end(InputPath="$.missing")), [{"a": 1}], id="runtime-error-input-path"),
    pytest.param(
        states("S", S=end(Parameters={"x.$": "$.missing"})), [{"a": 1}], id="runtime-error-parameters"
    ),
    pytest.param(
        states("S", S=end(Result=1, ResultPath="$.a.b")), [{"a": "text"}], id="runtime-error-result-path"
    ),
    pytest.param(
        states(
            "P",
            P={
                "Type": "Parallel",
                "Branches": [states("B", B=end(Parameters={"x.$": "$.missing"}))],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            Caught=end(),
        ),
        [{}],
        id="runtime-error-is-not-caught-by-states-all",
    ),
]


@pytest.mark.parametrize(("definition", "inputs"), EQUIVALENT)
def test_same_outcome_as_moto(
    moto: Moto, request: pytest.FixtureRequest, definition: dict, inputs: list
) -> None:
    for input in inputs:
        name = moto.unique_name(request.node.callspec.id)
        sleep = FakeSleep()
        local = run_local(name, definition, input, sleep)
        remote = moto.run(name, definition, input)
        if (local["error"] or "").startswith("States."):  # a runtime error's message is each engine's own
            local.pop("cause")
            remote.pop("cause", None)
        assert local == remote, f"input {input}"
        assert sleep.calls == moto.sleeps, f"retry waits for input {input}"


def choice_of(rule: dict[str, Any], default: bool = True) -> dict[str, Any]:
    choice: dict[str, Any] = {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}]}
    if default:
        choice["Default"] = "No"
    return states("C", C=choice, Yes=end(Result="yes"), No=end(Result="no"))


def parameter(expression: str) -> dict[str, Any]:
    return states("S", S=end(Parameters={"v.$": expression}))


def succeeded(output: Any) -> dict[str, Any]:
    return {"status": "SUCCEEDED", "output": output, "error": None}


def failed(error: str) -> dict[str, Any]:
    return {"status": "FAILED", "output": None, "error": error}


DEVIATIONS = [
    pytest.param(
        choice_of({"Variable": "$.missing", "StringEquals": "x"}),
        {},
        failed("States.Runtime"),
        id="choice-missing-variable",
    ),
    pytest.param(
        choice_of({"Variable": "$.v", "StringEquals": "x"}, default=False),
        {"v": "y"},
        failed("States.NoChoiceMatched"),
        id="no-choice-matched",
    ),
    pytest.param(
        choice_of({"Variable": "$.v", "StringMatches": "a\\*c"}),
        {"v": "a*c"},
        succeeded("yes"),
        id="string-matches-escape",
    ),
    pytest.param(
        choice_of({"Variable": "$.v", "TimestampEquals": "2024-01-01T00:00:00Z"}),
        {"v": "2024-01-01T01:00:00+01:00"},
        succeeded("yes"),
        id="timestamp-offsets",
    ),
    pytest.param(
        choice_of({"Variable": "$.v", "IsTimestamp": True}),
        {"v": "2024-01-01t00:00:00z"},
        succeeded("no"),
        id="timestamp-lowercase",
    ),
    pytest.param(parameter("States.Array(1, null)"), {}, succeeded({"v": [1, None]}), id="array-keeps-null"),
    pytest.param(
        parameter("States.Format('\\{\\} {}', 1)"), {}, succeeded({"v": "{} 1"}), id="format-escaped-braces"
    ),
    pytest.param(
        parameter("States.ArrayUnique($.a)"),
        {"a": [{"x": 1}, {"x": 1}]},
        succeeded({"v": [{"x": 1}]}),
        id="array-unique-objects",
    ),
    pytest.param(
        parameter("States.ArrayUnique($.a)"),
        {"a": [1, True, 1]},
        succeeded({"v": [1, True]}),
        id="array-unique-true-is-not-1",
    ),
    pytest.param(
        parameter("States.Base64Encode($.s)"),
        {"s": "héllo"},
        succeeded({"v": "aMOpbGxv"}),
        id="base64-non-ascii",
    ),
    pytest.param(parameter("States.MathAdd(1.5, 1)"), {}, succeeded({"v": 3}), id="float-literal-argument"),
    pytest.param(parameter("$.items[-1]"), {"items": [1, 2, 3]}, succeeded({"v": 3}), id="negative-index"),
    pytest.param(
        states(
            "S",
            S={"Type": "Pass", "Parameters": {"started.$": "$$.Execution.StartTime"}, "Next": "C"},
            **choice_of({"Variable": "$.started", "IsTimestamp": True})["States"],
        ),
        {},
        succeeded("yes"),
        id="context-start-time-is-a-timestamp",
    ),
]


@pytest.mark.parametrize(("definition", "input", "documented"), DEVIATIONS)
def test_documented_behaviour_where_moto_deviates(
    moto: Moto, request: pytest.FixtureRequest, definition: dict, input: Any, documented: dict
) -> None:
    name = moto.unique_name(request.node.callspec.id)
    local = run_local(name, definition, input, FakeSleep())
    local.pop("cause")
    assert local == documented
    remote = moto.run(name, definition, input)
    remote.pop("cause", None)
    assert remote != documented, "moto now follows AWS here: move this case to EQUIVALENT"
