import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sfn_testing import lambda_task, single

from llm_twin.workflows.definitions import load_definition, validate_definition
from llm_twin.workflows.failures import DefinitionError, UnsupportedFeatureError
from llm_twin.workflows.runner import LocalStateMachine

COLLECTION = Path(str(files("llm_twin.workflows").joinpath("collection.asl.json")))
TEMPLATE = json.dumps(single(lambda_task("${CrawlFunctionArn}", Comment="calls ${CrawlFunctionArn}")))


def test_placeholders_are_substituted_in_the_text() -> None:
    arn = "arn:aws:lambda:eu-west-1:111122223333:function:crawl"
    definition = load_definition(TEMPLATE, {"CrawlFunctionArn": arn, "Unused": "x"})
    state = definition["States"]["S"]
    assert state["Parameters"]["FunctionName"] == arn
    assert state["Comment"] == f"calls {arn}"


def test_a_missing_substitution_is_named() -> None:
    with pytest.raises(DefinitionError, match="CrawlFunctionArn"):
        load_definition(TEMPLATE, {"Other": "x"})


def test_the_definition_can_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "machine.asl.json"
    path.write_text(TEMPLATE)
    expected = load_definition(TEMPLATE, {"CrawlFunctionArn": "fn"})
    assert load_definition(path, {"CrawlFunctionArn": "fn"}) == expected
    assert load_definition(str(path), {"CrawlFunctionArn": "fn"}) == expected


def test_a_substitution_that_breaks_the_json_is_reported() -> None:
    with pytest.raises(DefinitionError, match="not valid JSON"):
        load_definition(TEMPLATE, {"CrawlFunctionArn": 'bad"quote'})


def test_the_collection_workflow_is_valid() -> None:
    names = {"ValidateFunctionArn": "v", "CrawlFunctionArn": "c", "FinalizeFunctionArn": "f"}
    validate_definition(load_definition(COLLECTION, names))


PASS = {"Type": "Pass", "End": True}


@pytest.mark.parametrize(
    "definition",
    [
        {"StartAt": "Missing", "States": {"S": PASS}},
        {"StartAt": "S", "States": {}},
        single({"Type": "Nope", "End": True}),
        single({"Type": "Pass"}),
        single({"Type": "Pass", "Next": "Nowhere"}),
        single({"Type": "Pass", "Next": "S", "End": True}),
        single({"Type": "Succeed", "End": True}),
        single({"Type": "Pass", "End": True, "Retry": [{"ErrorEquals": ["States.ALL"]}]}),
        single({"Type": "Pass", "End": True, "ResultSelector": {}}),
        single(lambda_task("fn", Retry=[{"ErrorEquals": ["States.ALL", "X"]}])),
        single(lambda_task("fn", Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}])),
        single(lambda_task("fn", Retry=[{"ErrorEquals": []}])),
        single(lambda_task("fn", Retry=[{"ErrorEquals": ["X"], "BackoffRate": 0.5}])),
        single(lambda_task("fn", Retry=[{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}])),
        single(lambda_task("fn", Catch=[{"ErrorEquals": ["X"], "Next": "Nowhere"}])),
        single(
            lambda_task(
                "fn",
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S"}, {"ErrorEquals": ["X"], "Next": "S"}],
            )
        ),
        single(lambda_task("fn", Catch=[{"ErrorEquals": ["X"], "Next": "S", "ResultPath": "$.a[*]"}])),
        single(lambda_task("fn", ResultPath="$$.x")),
        single(lambda_task("fn", InputPath="a.b")),
        single(lambda_task("fn", Parameters={"FunctionName": "fn", "x.$": "States.Nope()"})),
        single(lambda_task("fn", Parameters={"Payload": {}})),
        single({"Type": "Task", "End": True}),
        single({"Type": "Wait", "End": True}),
        single({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}),
        single({"Type": "Wait", "Timestamp": "tomorrow", "End": True}),
        single({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}),
        single({"Type": "Map", "End": True}),
        single({"Type": "Map", "MaxConcurrency": -1, "ItemProcessor": single(PASS), "End": True}),
        single(
            {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "S"}}},
                "End": True,
            }
        ),
        single(
            {
                "Type": "Map",
                "ItemProcessor": {
                    **single(PASS),
                    "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                },  # ExecutionType?
                "End": True,
            }
        ),
        single({"Type": "Parallel", "Branches": [], "End": True}),
        single({"Type": "Choice", "Choices": []}),
        {"StartAt": "S", "TimeoutSeconds": 0, "States": {"S": PASS}},
    ],
)
def test_invalid_definitions_are_rejected(definition: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError):
        LocalStateMachine(definition, {})


@pytest.mark.parametrize(
    ("definition", "feature"),
    [
        (
            single(
                {"Type": "Map", "ItemProcessor": single(PASS), "ToleratedFailurePercentage": 10, "End": True}
            ),
            "tolerated",
        ),
        (
            single({"Type": "Map", "ItemProcessor": single(PASS), "ToleratedFailureCount": 1, "End": True}),
            "tolerated",
        ),
        (
            single(
                {
                    "Type": "Map",
                    "ItemProcessor": {
                        **single(PASS),
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    },
                    "End": True,
                }
            ),
            "EXPRESS",
        ),
        (
            single({"Type": "Map", "ItemProcessor": single(PASS), "ItemReader": {}, "End": True}),
            "Distributed",
        ),
        (single({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True}), "Lambda"),
        (
            single(
                {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": True}
            ),
            "Lambda",
        ),
        (single({"Type": "Pass", "Assign": {"x": 1}, "End": True}), "variables"),
        ({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": PASS}}, "JSONata"),
        (single(lambda_task("fn", HeartbeatSeconds=10)), "heartbeats"),
    ],
)
def test_unsupported_features_raise_not_implemented(definition: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=feature) as raised:
        LocalStateMachine(definition, {})
    assert isinstance(raised.value, NotImplementedError)
