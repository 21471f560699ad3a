import datetime
import decimal
import json
import re
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from sfn_testing import lambda_task, run, single

from llm_twin.workflows.lambda_invoke import function_name_of, qualifier_of

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class TransientFetchError(Exception):
    pass


def echo(event: Any, context: Any) -> Any:
    return {"event": event}


@pytest.mark.parametrize(
    ("name_or_arn", "name", "qualifier"),
    [
        ("collect-crawl", "collect-crawl", None),
        ("collect-crawl:live", "collect-crawl", "live"),
        ("123456789012:function:collect-crawl", "collect-crawl", None),
        ("arn:aws:lambda:eu-west-1:123456789012:function:collect-crawl", "collect-crawl", None),
        ("arn:aws:lambda:eu-west-1:123456789012:function:collect-crawl:$LATEST", "collect-crawl", "$LATEST"),
    ],
)
def test_function_names(name_or_arn: str, name: str, qualifier: str | None) -> None:
    assert function_name_of(name_or_arn) == name
    assert qualifier_of(name_or_arn) == qualifier


@pytest.mark.parametrize(
    ("function_name", "registered_as"),
    [
        ("echo", "echo"),
        ("arn:aws:lambda:us-east-1:111122223333:function:echo", "echo"),
        ("arn:aws:lambda:us-east-1:111122223333:function:echo:prod", "echo"),
        ("echo", "arn:aws:lambda:eu-west-1:444455556666:function:echo"),
    ],
)
def test_lambda_invoke_matches_the_function_name_part(function_name: str, registered_as: str) -> None:
    execution = run(single(lambda_task(function_name)), {"x": 1}, {registered_as: echo})
    assert execution.status == "SUCCEEDED", execution.cause
    response = execution.output
    assert response["Payload"] == {"event": {"x": 1}}
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert UUID.fullmatch(response["SdkResponseMetadata"]["RequestId"])


def test_the_legacy_resource_arn_form_returns_the_bare_result() -> None:
    state = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "End": True}
    execution = run(single(state), {"x": 1}, {"echo": echo})
    assert execution.output == {"event": {"x": 1}}


def test_the_handler_gets_a_lambda_context() -> None:
    seen: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> None:
        seen.update(
            function_name=context.function_name,
            arn=context.invoked_function_arn,
            request_id=context.aws_request_id,
            memory=context.memory_limit_in_mb,
            version=context.function_version,
            remaining=context.get_remaining_time_in_millis(),
            log_group=context.log_group_name,
        )

    task = lambda_task("arn:aws:lambda:us-east-1:123456789012:function:fn:live", TimeoutSeconds=60)
    run(single(task), {}, {"fn": handler}, region="eu-west-1", account_id="111122223333")
    assert seen["function_name"] == "fn"
    assert seen["arn"] == "arn:aws:lambda:eu-west-1:111122223333:function:fn:live"
    assert UUID.fullmatch(seen["request_id"])
    assert seen["memory"] == "128"  # a string, as the Python runtime sets it
    assert seen["version"] == "$LATEST"
    assert 0 < seen["remaining"] <= 60_000
    assert seen["log_group"] == "/aws/lambda/fn"


def test_powertools_decorators_accept_the_context(capsys: pytest.CaptureFixture[str]) -> None:
    logger = Logger(service="sfn-test")

    @logger.inject_lambda_context
    def handler(event: Any, context: Any) -> dict[str, Any]:
        logger.info("crawling")
        return {"ok": True}

    execution = run(single(lambda_task("fn")), {}, {"fn": handler})
    assert execution.output["Payload"] == {"ok": True}
    log = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log["function_name"] == "fn" and log["message"] == "crawling"


def test_a_raised_exception_is_reported_like_the_python_runtime() -> None:
    def handler(event: Any, context: Any) -> None:
        raise TransientFetchError("site timed out")

    execution = run(single(lambda_task("fn")), {}, {"fn": handler})
    assert execution.status == "FAILED"
    assert execution.error == "TransientFetchError"
    cause = json.loads(execution.cause)
    assert cause["errorType"] == "TransientFetchError"
    assert cause["errorMessage"] == "site timed out"
    assert UUID.fullmatch(cause["requestId"])
    assert "in handler" in cause["stackTrace"][0]  # the trace starts at the handler, not the runner


@pytest.mark.parametrize("result", [{"when": datetime.datetime(2024, 1, 1)}, {1, 2}, float("nan")])
def test_a_result_json_cannot_encode_is_a_marshal_error(result: Any) -> None:
    execution = run(single(lambda_task("fn")), {}, {"fn": lambda event, context: result})
    assert execution.error == "Runtime.MarshalError"
    assert json.loads(execution.cause)["errorMessage"].startswith("Unable to marshal response:")


def test_decimals_are_marshalled_as_numbers() -> None:
    result = {"int": decimal.Decimal("3"), "float": decimal.Decimal("1.5")}
    execution = run(single(lambda_task("fn")), {}, {"fn": lambda event, context: result})
    assert execution.output["Payload"] == {"int": 3, "float": 1.5}


def test_an_unknown_function_fails_like_a_missing_lambda() -> None:
    execution = run(single(lambda_task("nope")), {}, {"fn": echo})
    assert execution.error == "Lambda.ResourceNotFoundException"
    assert "nope" in execution.cause and "fn" in execution.cause


def test_the_handler_cannot_change_the_state_data() -> None:
    def mutate(event: Any, context: Any) -> None:
        event["items"].append("mutated")

    definition = single(lambda_task("fn", ResultPath=None))
    assert run(definition, {"items": []}, {"fn": mutate}).output == {"items": []}
