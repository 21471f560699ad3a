"""API alarms (to the features stack's alarm topic) and the overview dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.infra

STACK = "LlmTwinApiStack"
GT, GE = "GreaterThanThreshold", "GreaterThanOrEqualToThreshold"
# construct id -> (namespace, metric, statistic or extended statistic, period s, comparison, threshold)
EXPECTED_ALARMS = {
    "Api5xxRate": ("AWS/ApiGateway", "5XXError", "Average", 300, GT, 0.05),
    "ApiLatencyP95": ("AWS/ApiGateway", "Latency", "p95", 300, GT, 10_000),
    "ApiThrottled": ("LlmTwin", "ApiThrottledRequests", "Sum", 300, GE, 1),
    "FunctionThrottles": ("AWS/Lambda", "Throttles", "Sum", 300, GE, 1),
    "LmiEndpointErrors": ("AWS/SageMaker", "Invocation5XXErrors", "Sum", 300, GE, 1),
}


@pytest.fixture(scope="module")
def alarms(synth: Any) -> dict[str, dict[str, Any]]:
    resources = synth.templates[STACK]["Resources"]
    return {
        name: resources[synth.logical_id(alarm)]["Properties"]
        for name, alarm in synth.stacks.api.monitoring.alarms.items()
    }


def test_exactly_the_expected_alarms(synth: Any, alarms: dict[str, Any]) -> None:
    assert set(alarms) == set(EXPECTED_ALARMS)
    assert len(synth.resources(STACK, "AWS::CloudWatch::Alarm")) == len(EXPECTED_ALARMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ALARMS))
def test_alarm(synth: Any, alarms: dict[str, Any], name: str) -> None:
    props = alarms[name]
    namespace, metric, statistic, period, comparison, threshold = EXPECTED_ALARMS[name]
    assert (props["Namespace"], props["MetricName"], props["Period"]) == (namespace, metric, period)
    assert props.get("Statistic", props.get("ExtendedStatistic")) == statistic
    assert (props["ComparisonOperator"], props["Threshold"]) == (comparison, threshold)
    assert (props["EvaluationPeriods"], props["TreatMissingData"]) == (1, "notBreaching")
    topic = synth.stacks.features.monitoring.topic
    imported = props["AlarmActions"][0]["Fn::ImportValue"]
    assert imported.startswith("llm-twin-dev-features:") and "MonitoringTopic" in imported
    assert props["AlarmActions"] == props["OKActions"]
    assert len(props["AlarmActions"]) == 1 and topic is not None
    assert props["AlarmDescription"]


def test_alarm_dimensions(synth: Any, alarms: dict[str, Any]) -> None:
    api = synth.stacks.api.api
    stage = {"Ref": synth.logical_id(api.stage)}
    for name in ("Api5xxRate", "ApiLatencyP95"):
        dims = {d["Name"]: d["Value"] for d in alarms[name]["Dimensions"]}
        assert dims == {"ApiName": "llm-twin-dev-api", "Stage": stage}
    assert alarms["FunctionThrottles"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": synth.logical_id(api.handler.function)}}
    ]
    dims = {d["Name"]: d["Value"] for d in alarms["LmiEndpointErrors"]["Dimensions"]}
    assert dims == {"EndpointName": "llm-twin-dev-lmi", "VariantName": "AllTraffic"}
    assert "Dimensions" not in alarms["ApiThrottled"]


def test_throttled_requests_are_counted_from_the_access_logs(synth: Any) -> None:
    metric_filter = synth.only(STACK, "AWS::Logs::MetricFilter")["Properties"]
    assert metric_filter["LogGroupName"] == {"Ref": synth.logical_id(synth.stacks.api.api.access_logs)}
    assert metric_filter["FilterPattern"] == '{ $.status = "429" }'
    (transformation,) = metric_filter["MetricTransformations"]
    assert transformation == {
        "MetricNamespace": "LlmTwin",
        "MetricName": "ApiThrottledRequests",
        "MetricValue": "1",
    }


def _dashboard_text(synth: Any) -> str:
    """The dashboard body with CloudFormation references rendered as their JSON."""
    body = synth.only(STACK, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)


def test_dashboard(synth: Any) -> None:
    dashboard = synth.only(STACK, "AWS::CloudWatch::Dashboard")["Properties"]
    assert dashboard["DashboardName"] == "llm-twin-dev-overview"
    text = _dashboard_text(synth)
    for namespace, metric in (
        ("AWS/ApiGateway", "Count"),
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/SageMaker", "Invocation5XXErrors"),
    ):
        assert f'"{namespace}","{metric}"' in text, (namespace, metric)
    assert '"stat":"p50"' in text and '"stat":"p95"' in text
    assert "FeatureIndexerFunction" in text and "FeatureIndexerDeadLetterQueue" in text
    assert "CollectionWorkflowStateMachine" in text
    assert '"type":"alarm"' in text  # the alarm status widget
