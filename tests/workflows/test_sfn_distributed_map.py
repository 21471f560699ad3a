"""Distributed Map in the local runner: ItemReader (S3 JSON object), child executions, MaxConcurrency,
tolerated failures, ResultWriter; S3 is moto in process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sfn_testing import lambda_task, run, single

from llm_twin.workflows import history
from llm_twin.workflows.failures import DefinitionError, UnsupportedFeatureError
from llm_twin.workflows.runner import LocalStateMachine

BUCKET = "items"
DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
READER = {
    "Resource": "arn:aws:states:::s3:getObject",
    "ReaderConfig": {"InputType": "JSON"},
    "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
}
WRITER = {
    "Resource": "arn:aws:states:::s3:putObject",
    "Parameters": {"Bucket.$": "$.bucket", "Prefix": "out/results"},
}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def put(s3: Any, key: str, value: Any) -> dict[str, str]:
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(value).encode())
    return {"bucket": BUCKET, "key": key}


def read(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def distributed_map(processor_states: dict[str, Any], start: str, **fields: Any) -> dict[str, Any]:
    state = {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": start, "States": processor_states},
        "End": True,
    }
    state.update(fields)
    return single(state)


def double(event: Any, context: Any) -> dict[str, Any]:
    if event["n"] < 0:
        raise ValueError(f"negative: {event['n']}")
    return {"doubled": event["n"] * 2}


DOUBLE = {"Double": lambda_task("double", ResultSelector={"doubled.$": "$.Payload.doubled"})}


def test_items_from_s3_run_as_child_executions_with_their_own_context(s3: Any) -> None:
    seen: list[dict[str, Any]] = []

    def record(event: Any, context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"n": event["item"]["n"]}

    definition = distributed_map(
        {"Record": lambda_task("record", OutputPath="$.Payload")},
        "Record",
        ItemReader=READER,
        ItemSelector={
            "item.$": "$$.Map.Item.Value",
            "index.$": "$$.Map.Item.Index",
            "tag.$": "$.tag",
        },
        Label="Numbers",
    )
    # Parameters can't see $$.Map in the processor: the child's $$ is its own execution's context.
    definition["States"]["S"]["ItemProcessor"]["States"]["Record"]["Parameters"]["Payload"] = {
        "item.$": "$.item",
        "child.$": "$$.Execution.Id",
        "input.$": "$$.Execution.Input.index",
    }
    location = put(s3, "in/items.json", [{"n": n} for n in range(5)])
    execution = run(definition, {**location, "tag": "t"}, {"record": record}, s3_client=s3, name="machine")

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.output == [{"n": n} for n in range(5)]  # no ResultWriter: outputs in item order
    children = {event["child"] for event in seen}
    assert len(children) == 5 and all(
        arn.startswith("arn:aws:states:us-east-1:123456789012:execution:machine/Numbers:") for arn in children
    )
    assert sorted(event["input"] for event in seen) == list(range(5))
    assert {e.child_execution for e in execution.events if e.child_execution} == execution.child_executions()
    assert {arn.rsplit(":", 1)[1] for arn in children} == execution.child_executions()
    (started,) = execution.events_of(history.MAP_RUN_STARTED)
    assert started.child_execution is None and started.details["items"] == 5
    assert started.details["map_run_arn"].startswith(
        "arn:aws:states:us-east-1:123456789012:mapRun:machine/Numbers:"
    )


def test_selector_sees_the_map_input_and_items_path_works_without_a_reader(s3: Any) -> None:
    definition = distributed_map(
        DOUBLE, "Double", ItemsPath="$.numbers", ItemSelector={"n.$": "$$.Map.Item.Value"}
    )
    execution = run(definition, {"numbers": [1, 2, 3]}, {"double": double}, s3_client=s3)
    assert execution.output == [{"doubled": 2}, {"doubled": 4}, {"doubled": 6}]


def test_max_items_and_max_concurrency(s3: Any) -> None:
    lock, running, peak = threading.Lock(), [0], [0]

    def slow(event: Any, context: Any) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return event

    reader = {**READER, "ReaderConfig": {"InputType": "JSON", "MaxItems": 12}}
    definition = distributed_map(
        {"Slow": lambda_task("slow", OutputPath="$.Payload")},
        "Slow",
        ItemReader=reader,
        MaxConcurrencyPath="$.limit",
    )
    location = put(s3, "many.json", list(range(30)))
    execution = run(definition, {**location, "limit": 3}, {"slow": slow}, s3_client=s3)
    assert execution.output == list(range(12))
    assert peak[0] == 3


def test_a_failed_child_fails_the_map_unless_tolerated(s3: Any) -> None:
    location = put(s3, "mixed.json", [{"n": 1}, {"n": -1}, {"n": 2}])
    strict = distributed_map(DOUBLE, "Double", ItemReader=READER)
    execution = run(strict, location, {"double": double}, s3_client=s3, max_workers=1)
    assert (execution.status, execution.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    (failed,) = execution.events_of(history.MAP_RUN_FAILED)
    assert failed.details["counts"]["FAILED"] == 1

    tolerant = distributed_map(DOUBLE, "Double", ItemReader=READER, ToleratedFailureCount=1)
    execution = run(tolerant, location, {"double": double}, s3_client=s3)
    assert execution.status == "SUCCEEDED"
    assert execution.output[0] == {"doubled": 2} and execution.output[2] == {"doubled": 4}
    assert execution.output[1]["Error"] == "ValueError"
    assert json.loads(execution.output[1]["Cause"])["errorMessage"] == "negative: -1"


def test_the_threshold_stops_the_remaining_children(s3: Any) -> None:
    location = put(s3, "bad.json", [{"n": -n - 1} for n in range(20)])
    definition = distributed_map(DOUBLE, "Double", ItemReader=READER, ToleratedFailurePercentagePath="$.pct")
    execution = run(definition, {**location, "pct": 10}, {"double": double}, s3_client=s3, max_workers=1)
    assert execution.error == "States.ExceedToleratedFailureThreshold"
    # 10 % of 20 = 2 tolerated: the third failure fails the run; the rest never start
    assert execution.attempts("Double") == 3
    assert "3 of 20 items failed" in execution.cause


def test_result_writer_exports_the_children_and_returns_where(s3: Any) -> None:
    location = put(s3, "mixed.json", [{"n": 1}, {"n": -1}, {"n": 2}])
    definition = distributed_map(
        DOUBLE,
        "Double",
        ItemReader=READER,
        ResultWriter=WRITER,
        ToleratedFailurePercentage=100,
        ResultPath="$.map",
    )
    execution = run(definition, location, {"double": double}, s3_client=s3, name="m")
    assert execution.status == "SUCCEEDED"
    details = execution.output["map"]
    (run_event,) = execution.events_of(history.MAP_RUN_SUCCEEDED)
    assert details["MapRunArn"] == run_event.details["map_run_arn"]
    map_run_id = details["MapRunArn"].rsplit(":", 1)[1]
    assert details["ResultWriterDetails"] == {
        "Bucket": BUCKET,
        "Key": f"out/results/{map_run_id}/manifest.json",
    }
    manifest = read(s3, details["ResultWriterDetails"]["Key"])
    assert manifest["DestinationBucket"] == BUCKET and manifest["MapRunArn"] == details["MapRunArn"]
    assert manifest["ResultFiles"]["PENDING"] == []
    (succeeded_file,) = manifest["ResultFiles"]["SUCCEEDED"]
    (failed_file,) = manifest["ResultFiles"]["FAILED"]
    assert succeeded_file["Key"] == f"out/results/{map_run_id}/SUCCEEDED_0.json"
    succeeded, failed = read(s3, succeeded_file["Key"]), read(s3, failed_file["Key"])
    assert sorted(json.loads(e["Output"])["doubled"] for e in succeeded) == [2, 4]
    assert {e["Status"] for e in succeeded} == {"SUCCEEDED"}
    (failure,) = failed
    assert (failure["Status"], failure["Error"], json.loads(failure["Input"])) == (
        "FAILED",
        "ValueError",
        {"n": -1},
    )
    assert failure["ExecutionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:m/S:")


def test_reader_failures_are_states_errors_that_catch_sees(s3: Any) -> None:
    definition = distributed_map(DOUBLE, "Double", ItemReader=READER)
    missing = run(definition, {"bucket": BUCKET, "key": "nope.json"}, {"double": double}, s3_client=s3)
    assert missing.error == "States.ItemReaderFailed" and "nope.json" in missing.cause
    not_array = run(definition, put(s3, "obj.json", {"n": 1}), {"double": double}, s3_client=s3)
    assert not_array.error == "States.ItemReaderFailed" and "JSON array" in not_array.cause

    definition["States"]["S"]["Catch"] = [{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Caught"}]
    definition["States"]["Caught"] = {"Type": "Pass", "Result": "caught", "End": True}
    caught = run(definition, {"bucket": BUCKET, "key": "nope.json"}, {"double": double}, s3_client=s3)
    assert (caught.status, caught.output) == ("SUCCEEDED", "caught")


def test_without_a_result_writer_a_large_result_exceeds_the_payload_quota(s3: Any) -> None:
    location = put(s3, "big.json", [{"n": n} for n in range(3_000)])
    pad = {"Pad": {"Type": "Pass", "Parameters": {"text": "x" * 100}, "End": True}}
    execution = run(distributed_map(pad, "Pad", ItemReader=READER), location, s3_client=s3)
    assert execution.error == "States.DataLimitExceeded"
    with_writer = distributed_map(pad, "Pad", ItemReader=READER, ResultWriter=WRITER)
    assert run(with_writer, location, s3_client=s3).status == "SUCCEEDED"


@pytest.mark.parametrize(
    ("fields", "processor", "error", "match"),
    [
        ({"ItemReader": READER, "ItemsPath": "$.x"}, DISTRIBUTED, DefinitionError, "ItemReader or ItemsPath"),
        ({"ToleratedFailureCount": -1}, DISTRIBUTED, DefinitionError, "ToleratedFailureCount"),
        ({"ToleratedFailurePercentage": 101}, DISTRIBUTED, DefinitionError, "ToleratedFailurePercentage"),
        (
            {"ResultWriter": {**WRITER, "Resource": "arn:aws:states:::s3:getObject"}},
            DISTRIBUTED,
            DefinitionError,
            "putObject",
        ),
        ({"ItemReader": {**READER, "Parameters": {"Bucket": "b"}}}, DISTRIBUTED, DefinitionError, "Key"),
        ({}, {"Mode": "SIDEWAYS"}, DefinitionError, "INLINE or DISTRIBUTED"),
        ({"ItemBatcher": {"MaxItemsPerBatch": 10}}, DISTRIBUTED, UnsupportedFeatureError, "ItemBatcher"),
        (
            {"ItemReader": {**READER, "ReaderConfig": {"InputType": "CSV"}}},
            DISTRIBUTED,
            UnsupportedFeatureError,
            "CSV",
        ),
        (
            {"ItemReader": {**READER, "Resource": "arn:aws:states:::s3:listObjectsV2"}},
            DISTRIBUTED,
            UnsupportedFeatureError,
            "listObjectsV2",
        ),
        (
            {"ResultWriter": {**WRITER, "WriterConfig": {}}},
            DISTRIBUTED,
            UnsupportedFeatureError,
            "WriterConfig",
        ),
        ({"ToleratedFailureCount": 1}, {"Mode": "INLINE"}, UnsupportedFeatureError, "DISTRIBUTED"),
    ],
)
def test_definition_checks(
    fields: dict[str, Any], processor: dict[str, Any], error: type, match: str
) -> None:
    definition = distributed_map(DOUBLE, "Double", **fields)
    definition["States"]["S"]["ItemProcessor"]["ProcessorConfig"] = processor
    with pytest.raises(error, match=match):
        LocalStateMachine(definition, {})
