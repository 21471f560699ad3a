"""Feature pipeline alarms, their encrypted SNS topic, and the features stack's composition."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

STACK = "LlmTwinFeaturesStack"
GT, GE, LE = "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanOrEqualToThreshold"
# construct id -> (namespace, metric, statistic, period s, comparison, threshold)
EXPECTED_ALARMS = {
    "DeadLetterQueueNotEmpty": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300, GT, 0),
    "IteratorAge": ("AWS/Lambda", "IteratorAge", "Maximum", 300, GT, 600_000),  # 2 x the 5 min timeout
    "Errors": ("AWS/Lambda", "Errors", "Sum", 300, GE, 1),
    "ClusterStatusRed": ("AWS/ES", "ClusterStatus.red", "Maximum", 60, GE, 1),
    "ClusterIndexWritesBlocked": ("AWS/ES", "ClusterIndexWritesBlocked", "Maximum", 300, GE, 1),
    "FreeStorageSpaceLow": ("AWS/ES", "FreeStorageSpace", "Minimum", 60, LE, 2560),  # 25% of 10 GiB, MB
}


@pytest.fixture(scope="module")
def alarms(synth: Any) -> dict[str, dict[str, Any]]:
    resources = synth.templates[STACK]["Resources"]
    monitoring = synth.stacks.features.monitoring
    return {
        name: resources[synth.logical_id(alarm)]["Properties"] for name, alarm in monitoring.alarms.items()
    }


def test_exactly_the_expected_alarms(synth: Any, alarms: dict[str, Any]) -> None:
    assert set(alarms) == set(EXPECTED_ALARMS)
    assert len(synth.resources(STACK, "AWS::CloudWatch::Alarm")) == len(EXPECTED_ALARMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ALARMS))
def test_alarm(synth: Any, alarms: dict[str, Any], name: str) -> None:
    props = alarms[name]
    namespace, metric, statistic, period, comparison, threshold = EXPECTED_ALARMS[name]
    assert (props["Namespace"], props["MetricName"], props["Statistic"], props["Period"]) == (
        namespace,
        metric,
        statistic,
        period,
    )
    assert (props["ComparisonOperator"], props["Threshold"]) == (comparison, threshold)
    assert props["EvaluationPeriods"] == 1
    assert props["TreatMissingData"] == "notBreaching"
    topic = {"Ref": synth.logical_id(synth.stacks.features.monitoring.topic)}
    assert props["AlarmActions"] == [topic] and props["OKActions"] == [topic]
    assert props["AlarmDescription"]


def test_alarm_dimensions(synth: Any, alarms: dict[str, Any]) -> None:
    indexer = synth.stacks.features.indexer
    function = {"Ref": synth.logical_id(indexer.indexer.function)}
    assert alarms["IteratorAge"]["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
    assert alarms["Errors"]["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
    queue = {"Fn::GetAtt": [synth.logical_id(indexer.dead_letter_queue), "QueueName"]}
    assert alarms["DeadLetterQueueNotEmpty"]["Dimensions"] == [{"Name": "QueueName", "Value": queue}]
    for name in ("ClusterStatusRed", "ClusterIndexWritesBlocked", "FreeStorageSpaceLow"):
        dims = {d["Name"]: d["Value"] for d in alarms[name]["Dimensions"]}
        assert dims["ClientId"] == {"Ref": "AWS::AccountId"}
        assert "VectorIndexDomain" in dims["DomainName"]["Fn::ImportValue"]


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use(synth: Any) -> None:
    monitoring = synth.stacks.features.monitoring
    resources = synth.templates[STACK]["Resources"]
    topic = resources[synth.logical_id(monitoring.topic)]["Properties"]
    key_id = synth.logical_id(monitoring.key)
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    (statement,) = [
        s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowCloudWatchAlarmsToPublish"
    ]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert not synth.resources(STACK, "AWS::SNS::Subscription")  # no alarmEmail by default


def test_features_stack(synth: Any, features_template: dict[str, Any], data_template: dict[str, Any]) -> None:
    features, data = synth.stacks.features, synth.stacks.data
    assert features.stack_name == "llm-twin-dev-features"
    assert features.tags.tag_values() == {"project": "llm-twin", "environment": "dev"}
    assert features.dependencies == [data]
    # Plus the exports CDK adds for the API stack (alarm topic, indexer function/queue for the dashboard).
    assert {o for o in features_template["Outputs"] if not o.startswith("ExportsOutput")} == {
        "FeatureIndexerFunctionName",
        "FeatureIndexerDeadLetterQueueUrl",
        "AlarmTopicArn",
    }
    # Imports only stable identifiers the data stack exports (never a layer).
    exports = {o["Export"]["Name"] for o in data_template["Outputs"].values() if "Export" in o}
    imports: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Fn::ImportValue" in node:
                imports.add(node["Fn::ImportValue"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(features_template["Resources"])
    assert imports and imports <= exports
    assert not any("Layer" in name for name in imports)
    # The data stack never imports from a compute stack (the domain names roles by ARN, not reference).
    assert "Fn::ImportValue" not in str(data_template)
