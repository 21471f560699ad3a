"""``POST /training`` and ``GET /training/{execution_id}`` through the handler: against moto's Step
Functions (in process) on AWS settings, and the 409 where no training workflow is configured (locally)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from llm_twin.api.services import Services, use_services
from llm_twin.api.starter import LocalCollectionStarter
from llm_twin.settings import Settings
from tests.api.conftest import invoke, rest_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
NAME = "llm-twin-dev-training"
ROLE = "arn:aws:iam::123456789012:role/sfn"
WAIT = {"StartAt": "Train", "States": {"Train": {"Type": "Wait", "Seconds": 3600, "End": True}}}
GATE = {
    "StartAt": "Rejected",
    "States": {"Rejected": {"Type": "Fail", "Error": "EvaluationGateNotPassed", "Cause": "win rate 0.4"}},
}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, api_env: None) -> Iterator[None]:
    from llm_twin.local.clients import clear_clients

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in (
        "LLM_TWIN_AWS_ENDPOINT_URL",
        "LLM_TWIN_REGION",
        "AWS_REGION",
        "LLM_TWIN_TRAINING_STATE_MACHINE_ARN",
    ):
        monkeypatch.delenv(key, raising=False)
    clear_clients()  # no client cached before moto patched botocore
    yield
    clear_clients()


@contextmanager
def installed(arn: str | None) -> Iterator[Settings]:
    settings = Settings(region="us-east-1", training_state_machine_arn=arn)
    with use_services(Services(settings, LocalCollectionStarter(settings))):
        yield settings


@contextmanager
def step_functions(definition: dict[str, Any], *, execute: bool = False) -> Iterator[tuple[Any, str]]:
    """moto's Step Functions with the training machine; ``execute``: moto runs the definition."""
    import boto3
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": execute}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(name=NAME, definition=json.dumps(definition), roleArn=ROLE)
        yield sfn, arn["stateMachineArn"]


def get(execution_id: str) -> Any:
    return invoke(
        rest_event(
            "GET",
            f"/training/{execution_id}",
            resource="/training/{execution_id}",
            path_parameters={"execution_id": execution_id},
        )
    )


def test_start_then_watch_until_it_ends(aws_env: None) -> None:
    with step_functions(WAIT) as (sfn, arn), installed(arn):
        started = invoke(rest_event("POST", "/training", {"reason": "new posts"}))
        assert started.status == 202, started.body
        execution_id = started.body["execution_id"]
        assert str(uuid.UUID(execution_id)) == execution_id  # 36 characters: the job names' budget
        assert started.body == {
            "execution_id": execution_id,
            "status": "RUNNING",
            "status_url": f"/prod/training/{execution_id}",  # as the caller addressed the stage
        }
        assert started.headers["location"] == started.body["status_url"]

        execution_arn = f"arn:aws:states:us-east-1:123456789012:execution:{NAME}:{execution_id}"
        described = sfn.describe_execution(executionArn=execution_arn)
        assert json.loads(described["input"]) == {"source": "api", "reason": "new posts"}

        running = get(execution_id)
        assert running.status == 200
        assert running.body["status"] == "RUNNING" and running.body["stopped_at"] is None
        assert running.body["started_at"] and running.body["error"] is None

        sfn.stop_execution(executionArn=execution_arn)
        stopped = get(execution_id).body
        assert stopped["status"] == "ABORTED" and stopped["stopped_at"]

        # {} and no body at all both start a run; the input then carries no reason.
        for event in (rest_event("POST", "/training", {}), rest_event("POST", "/training")):
            reply = invoke(event)
            assert reply.status == 202
            arn_of = f"arn:aws:states:us-east-1:123456789012:execution:{NAME}:{reply.body['execution_id']}"
            assert json.loads(sfn.describe_execution(executionArn=arn_of)["input"]) == {"source": "api"}
        assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 3


def test_a_failed_run_reports_error_and_cause(aws_env: None) -> None:
    with step_functions(GATE, execute=True) as (_sfn, arn), installed(arn):
        execution_id = invoke(rest_event("POST", "/training", {})).body["execution_id"]
        for _ in range(100):  # moto runs the definition in a thread
            reply = get(execution_id)
            if reply.body["status"] != "RUNNING":
                break
            time.sleep(0.05)
        assert reply.status == 200
        assert reply.body["status"] == "FAILED"
        assert (reply.body["error"], reply.body["cause"]) == ("EvaluationGateNotPassed", "win rate 0.4")
        assert reply.body["stopped_at"]


def test_unknown_and_invalid_execution_ids(aws_env: None) -> None:
    with step_functions(WAIT) as (_sfn, arn), installed(arn):
        missing = get(str(uuid.uuid4()))
        assert missing.status == 404 and missing.body["message"].startswith("unknown training execution")
        assert get("not*an*id").status == 422
        assert invoke(rest_event("POST", "/training", {"kinds": ["sft"]})).status == 422  # extra field
        assert invoke(rest_event("POST", "/training", {"reason": "x" * 501})).status == 422


def test_a_configured_but_undeployed_machine_is_409(aws_env: None) -> None:
    with step_functions(WAIT) as (_sfn, arn), installed(arn.replace(NAME, "llm-twin-dev-nothing")):
        reply = invoke(rest_event("POST", "/training", {}))
    assert reply.status == 409
    assert "is not deployed" in reply.body["message"]


def test_locally_there_is_no_training_workflow(api_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLM_TWIN_TRAINING_STATE_MACHINE_ARN", raising=False)
    with installed(None):
        reply = invoke(rest_event("POST", "/training", {"reason": "try"}))
        assert reply.status == 409
        assert reply.body == {
            "message": "no training workflow here: training runs with `llm-twin train all` locally"
        }
        assert get(str(uuid.uuid4())).status == 404
