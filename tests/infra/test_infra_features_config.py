"""Feature pipeline configuration: context keys, validation, and a non-default synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError, FeaturePipelineConfig, VectorIndexConfig, config_from_values

pytestmark = pytest.mark.infra

OVERRIDES = {
    "vectorInstanceType": "r7g.large.search",
    "vectorInstanceCount": "2",
    "vectorAvailabilityZones": "2",
    "vectorEbsGb": "40",
    "indexName": "chunks-v2",
    "embeddingModel": "amazon.titan-embed-text-v2:0",
    "embeddingDimension": "512",
    "featureBatchSize": "25",
    "featureBatchWindowSeconds": "0",
    "featureParallelization": "2",
    "alarmEmail": "ops@example.com",
}


def test_defaults() -> None:
    config = config_from_values({}.get)
    assert config.vector == VectorIndexConfig(
        instance_type="t3.small.search",
        instance_count=1,
        availability_zones=1,
        ebs_gb=10,
        index_name="llm-twin-chunks",
    )
    assert config.features == FeaturePipelineConfig(
        batch_size=10,
        batch_window_seconds=10,
        parallelization_factor=1,
        embedding_model="amazon.titan-embed-text-v2:0",
        embedding_dimension=1024,
    )
    assert config.alarm_email is None


def test_overrides_are_parsed() -> None:
    config = config_from_values(OVERRIDES.get)
    assert config.vector == VectorIndexConfig("r7g.large.search", 2, 2, 40, "chunks-v2")
    assert config.features == FeaturePipelineConfig(25, 0, 2, "amazon.titan-embed-text-v2:0", 512)
    assert config.alarm_email == "ops@example.com"
    assert config_from_values({"alarmEmail": "none"}.get).alarm_email is None


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"vectorInstanceType": "t3.small"}, "vectorInstanceType"),
        ({"vectorInstanceType": "t2.small.search"}, "vectorInstanceType"),  # no encryption at rest
        ({"vectorInstanceCount": "0"}, "vectorInstanceCount"),
        ({"vectorAvailabilityZones": "4"}, "vectorAvailabilityZones"),
        ({"vectorInstanceCount": "3", "vectorAvailabilityZones": "2"}, "vectorInstanceCount"),
        ({"vectorEbsGb": "5"}, "vectorEbsGb"),
        ({"indexName": "Chunks"}, "indexName"),
        ({"indexName": "chunks*"}, "indexName"),
        ({"embeddingModel": "titan"}, "embeddingModel"),
        ({"embeddingDimension": "768"}, "embeddingDimension"),  # not a Titan V2 size
        ({"embeddingModel": "cohere.embed-english-v3", "embeddingDimension": "0"}, "embeddingDimension"),
        ({"featureBatchSize": "0"}, "featureBatchSize"),
        ({"featureBatchSize": "10001"}, "featureBatchSize"),
        ({"featureBatchWindowSeconds": "301"}, "featureBatchWindowSeconds"),
        ({"featureParallelization": "11"}, "featureParallelization"),
        ({"featureParallelization": "two"}, "featureParallelization"),
        ({"alarmEmail": "ops-at-example"}, "alarmEmail"),
    ],
)
def test_invalid_values_name_their_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        config_from_values(values.get)


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory, synthesizer: Any) -> Any:
    """The app with every feature key overridden, cdk-nag on (zone awareness changes the findings)."""
    return synthesizer(tmp_path_factory.mktemp("cdk-out-features"), OVERRIDES)


def test_domain_from_context(custom: Any) -> None:
    props = custom.only("LlmTwinDataStack", "AWS::OpenSearchService::Domain")["Properties"]
    assert props["ClusterConfig"] == {
        "DedicatedMasterEnabled": False,
        "InstanceCount": 2,
        "InstanceType": "r7g.large.search",
        "MultiAZWithStandbyEnabled": False,
        "ZoneAwarenessConfig": {"AvailabilityZoneCount": 2},
        "ZoneAwarenessEnabled": True,
    }
    assert props["EBSOptions"]["VolumeSize"] == 40
    rules = {
        r["id"]
        for r in custom.only("LlmTwinDataStack", "AWS::OpenSearchService::Domain")["Metadata"]["cdk_nag"][
            "rules_to_suppress"
        ]
    }
    assert rules == {"AwsSolutions-OS1", "AwsSolutions-OS3", "AwsSolutions-OS4"}  # OS7 holds now


def test_indexer_from_context(custom: Any) -> None:
    stack = "LlmTwinFeaturesStack"
    mapping = custom.only(stack, "AWS::Lambda::EventSourceMapping")["Properties"]
    assert (mapping["BatchSize"], mapping["ParallelizationFactor"]) == (25, 2)
    assert mapping.get("MaximumBatchingWindowInSeconds", 0) == 0
    (function,) = custom.resources(stack, "AWS::Lambda::Function").values()
    env = function["Properties"]["Environment"]["Variables"]
    assert env["LLM_TWIN_INDEX_NAME"] == "chunks-v2"
    assert env["LLM_TWIN_BEDROCK_EMBEDDING_DIMENSIONS"] == "512"
    assert env["LLM_TWIN_OPENSEARCH_REPLICAS"] == "1"  # two data nodes: one replica per shard
    (subscription,) = custom.resources(stack, "AWS::SNS::Subscription").values()
    assert (subscription["Properties"]["Protocol"], subscription["Properties"]["Endpoint"]) == (
        "email",
        "ops@example.com",
    )
    thresholds = {
        a["Properties"]["MetricName"]: a["Properties"]["Threshold"]
        for a in custom.resources(stack, "AWS::CloudWatch::Alarm").values()
    }
    assert thresholds["FreeStorageSpace"] == 40 * 1024 * 0.25


def test_report_has_no_violations(custom: Any) -> None:
    report = json.loads(Path(custom.outdir / "validation-report.json").read_text())
    assert all(not plugin.get("violations") for plugin in report["pluginReports"])
