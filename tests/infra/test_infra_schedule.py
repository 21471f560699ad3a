"""The re-crawl schedule: expression, time zone, input, retries, encrypted TLS-only DLQ, on/off."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra

STACK = "LlmTwinCollectionStack"


def test_default_schedule(synth: Any) -> None:
    schedule = synth.only(STACK, "AWS::Scheduler::Schedule")["Properties"]
    recrawl = synth.stacks.collection.recrawl
    assert schedule["ScheduleExpression"] == "cron(0 3 ? * MON *)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["State"] == "ENABLED"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"] == {"Ref": synth.logical_id(synth.stacks.collection.workflow.state_machine)}
    assert json.loads(target["Input"]) == {"all_authors": True}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [synth.logical_id(recrawl.dead_letter_queue), "Arn"]}
    }
    assert target["RoleArn"] == {"Fn::GetAtt": [synth.logical_id(recrawl.role), "Arn"]}


def test_input_is_a_valid_collection_request(synth: Any) -> None:
    from llm_twin.collection.events import CollectionRequest

    target = synth.only(STACK, "AWS::Scheduler::Schedule")["Properties"]["Target"]
    assert CollectionRequest.model_validate_json(target["Input"]).all_authors is True


def test_dead_letter_queue_is_encrypted_and_tls_only(synth: Any) -> None:
    queue = synth.only(STACK, "AWS::SQS::Queue")["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    policy = synth.only(STACK, "AWS::SQS::QueuePolicy")["Properties"]["PolicyDocument"]
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _schedule_for(context_value: Any) -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_stepfunctions as sfn
    from aws_cdk.assertions import Template

    from infra.config import config_from_values
    from infra.constructs.recrawl_schedule import RecrawlSchedule

    stack = Stack(App(), "S")
    machine = sfn.StateMachine.from_state_machine_arn(
        stack, "Sm", "arn:aws:states:us-east-1:123456789012:stateMachine:collection"
    )
    RecrawlSchedule(
        stack, "R", config=config_from_values({"recrawlSchedule": context_value}.get), state_machine=machine
    )
    (schedule,) = Template.from_stack(stack).find_resources("AWS::Scheduler::Schedule").values()
    return schedule["Properties"]


def test_disabled_by_context_keeps_the_schedule_in_state_disabled() -> None:
    assert _schedule_for("disabled")["State"] == "DISABLED"


def test_expression_time_zone_and_retries_from_context() -> None:
    props = _schedule_for(
        {
            "expression": "rate(12 hours)",
            "timeZone": "Europe/Berlin",
            "retryAttempts": 5,
            "maxEventAgeMinutes": 30,
        }
    )
    assert (props["ScheduleExpression"], props["ScheduleExpressionTimezone"]) == (
        "rate(12 hours)",
        "Europe/Berlin",
    )
    assert props["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 1800, "MaximumRetryAttempts": 5}
