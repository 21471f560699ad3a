"""The feature indexer: function, DynamoDB stream event source mapping, filters, DLQ, IAM."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_twin.features.stream_filter import matches_any

pytestmark = pytest.mark.infra

STACK = "LlmTwinFeaturesStack"
MODEL_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":bedrock:",
            {"Ref": "AWS::Region"},
            "::foundation-model/amazon.titan-embed-text-v2:0",
        ],
    ]
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def imported(value: Any) -> str:
    """The export name a value imports (``{"Fn::ImportValue": name}``)."""
    assert set(value) == {"Fn::ImportValue"}, value
    return str(value["Fn::ImportValue"])


@pytest.fixture(scope="module")
def function(synth: Any, features_template: dict[str, Any]) -> dict[str, Any]:
    return features_template["Resources"][synth.logical_id(synth.stacks.features.indexer.indexer.function)]


@pytest.fixture(scope="module")
def mapping(synth: Any) -> dict[str, Any]:
    return synth.only(STACK, "AWS::Lambda::EventSourceMapping")["Properties"]


def test_function_configuration(synth: Any, function: dict[str, Any]) -> None:
    indexer = synth.stacks.features.indexer.indexer
    props = function["Properties"]
    assert (props["Runtime"], props["Architectures"], props["Handler"]) == (
        "python3.12",
        ["arm64"],
        "handler.handler",
    )
    assert (props["MemorySize"], props["Timeout"]) == (1024, 300)
    assert props["TracingConfig"] == {"Mode": "Active"}
    # Its own stack's layer (a LayerVersion ARN never crosses stacks).
    assert props["Layers"] == [{"Ref": synth.logical_id(synth.stacks.features.shared_layer.layer)}]
    assert props["LoggingConfig"] == {"LogGroup": {"Ref": synth.logical_id(indexer.log_group)}}
    assert "ReservedConcurrentExecutions" not in props
    assert len(synth.resources(STACK, "AWS::Lambda::Function")) == 1


def test_function_code_is_the_feature_indexer_folder(synth: Any, function: dict[str, Any]) -> None:
    from infra.paths import lambda_dir

    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    staged = synth.outdir / f"asset.{asset_hash}"
    assert (staged / "handler.py").read_bytes() == (lambda_dir("feature_indexer") / "handler.py").read_bytes()


def test_environment(function: dict[str, Any]) -> None:
    env = function["Properties"]["Environment"]["Variables"]
    assert "VectorIndexDomain" in imported(env["LLM_TWIN_OPENSEARCH_ENDPOINT"]["Fn::Join"][1][1])
    assert env["LLM_TWIN_OPENSEARCH_ENDPOINT"]["Fn::Join"][1][0] == "https://"
    assert "WarehouseTable" in imported(env["LLM_TWIN_TABLE_NAME"])
    assert {k: v for k, v in env.items() if isinstance(v, str)} == {
        "POWERTOOLS_SERVICE_NAME": "features",
        "POWERTOOLS_METRICS_NAMESPACE": "LlmTwin",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "LLM_TWIN_VECTOR_INDEX": "opensearch",
        "LLM_TWIN_INDEX_NAME": "llm-twin-chunks",
        "LLM_TWIN_OPENSEARCH_REPLICAS": "0",  # one data node
        "LLM_TWIN_EMBEDDER": "bedrock",
        "LLM_TWIN_BEDROCK_EMBEDDING_MODEL_ID": "amazon.titan-embed-text-v2:0",
        "LLM_TWIN_BEDROCK_EMBEDDING_DIMENSIONS": "1024",
    }


def test_environment_is_what_the_settings_read(
    function: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_twin.settings import Settings

    env = function["Properties"]["Environment"]["Variables"]
    names = {n for n in env if n.startswith("LLM_TWIN_")}
    assert names <= {f"LLM_TWIN_{name.upper()}" for name in Settings.model_fields}, names
    for name in names:
        value = env[name]
        monkeypatch.setenv(name, value if isinstance(value, str) else "https://search-x.es.amazonaws.com")
    settings = Settings()
    assert (settings.vector_index, settings.embedder, settings.bedrock_embedding_dimensions) == (
        "opensearch",
        "bedrock",
        1024,
    )


def test_event_source_mapping_overrides_the_unsafe_defaults(synth: Any, mapping: dict[str, Any]) -> None:
    indexer = synth.stacks.features.indexer
    assert mapping["FunctionName"] == {"Ref": synth.logical_id(indexer.indexer.function)}
    assert "StreamArn" in imported(mapping["EventSourceArn"])
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (10, 10)
    assert mapping["ParallelizationFactor"] == 1
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 5  # default: retry until the record expires
    assert mapping["MaximumRecordAgeInSeconds"] == 6 * 3600  # < the stream's 24 h retention
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [synth.logical_id(indexer.dead_letter_queue), "Arn"]}}
    }
    assert mapping.get("Enabled", True) is True


def test_filter_criteria(mapping: dict[str, Any]) -> None:
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns == [
        {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"item_type": {"S": ["document"]}}}},
        {"eventName": ["REMOVE"], "dynamodb": {"OldImage": {"item_type": {"S": ["document"]}}}},
    ]


def _record(event_name: str, item_type: str) -> dict[str, Any]:
    image = {"pk": {"S": "AUTHOR#a"}, "sk": {"S": "DOC#1"}, "item_type": {"S": item_type}}
    images = {
        "INSERT": {"NewImage": image},
        "MODIFY": {"NewImage": image, "OldImage": image},
        "REMOVE": {"OldImage": image},  # a REMOVE carries only the old image
    }[event_name]
    keys = {"pk": image["pk"], "sk": image["sk"]}
    return {"eventName": event_name, "dynamodb": {"Keys": keys, "SequenceNumber": "1", **images}}


@pytest.mark.parametrize("event_name", ["INSERT", "MODIFY", "REMOVE"])
@pytest.mark.parametrize("item_type", ["document", "author", "run", "link_status"])
def test_only_document_changes_reach_the_function(
    mapping: dict[str, Any], event_name: str, item_type: str
) -> None:
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    delivered = matches_any(patterns, _record(event_name, item_type))
    assert delivered == (item_type == "document")


def test_filter_patterns_use_the_warehouse_schema() -> None:
    from llm_twin.features.stream_filter import DOCUMENT_FILTER_PATTERNS
    from llm_twin.warehouse import schema

    for pattern in DOCUMENT_FILTER_PATTERNS:
        (image,) = pattern["dynamodb"].values()
        assert image == {schema.ITEM_TYPE_ATTRIBUTE: {"S": [schema.ITEM_TYPE_DOCUMENT]}}


def test_dead_letter_queue_is_encrypted_tls_only_and_kept_14_days(synth: Any) -> None:
    dlq = synth.stacks.features.indexer.dead_letter_queue
    queue = synth.templates[STACK]["Resources"][synth.logical_id(dlq)]["Properties"]
    assert queue == {"MessageRetentionPeriod": 14 * 86400, "SqsManagedSseEnabled": True}
    (policy,) = synth.resources(STACK, "AWS::SQS::QueuePolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_indexer_role(synth: Any) -> None:
    from infra.constructs.warehouse import READ_ACTIONS

    indexer = synth.stacks.features.indexer
    statements = synth.policy_statements(STACK, synth.logical_id(indexer.role))
    assert all(s["Effect"] == "Allow" for s in statements)
    resources = {tuple(sorted(as_list(s["Action"]))): s["Resource"] for s in statements}
    assert len(resources) == len(statements)
    stream_actions = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
    es_actions = ("es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut")
    sqs_actions = ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage")
    assert set(resources) == {
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),
        ("bedrock:InvokeModel",),
        (*stream_actions, "dynamodb:ListStreams"),
        tuple(sorted(READ_ACTIONS)),  # the warehouse: read only
        es_actions,
        sqs_actions,
    }
    assert resources[("bedrock:InvokeModel",)] == MODEL_ARN  # exactly the one model
    assert "StreamArn" in imported(resources[(*stream_actions, "dynamodb:ListStreams")])  # not "*"
    assert resources[es_actions]["Fn::Join"][1][-1] == ":domain/llm-twin-dev/*"
    assert resources[sqs_actions] == {"Fn::GetAtt": [synth.logical_id(indexer.dead_letter_queue), "Arn"]}


def test_indexer_role_name_is_fixed_and_the_role_is_lambdas(
    synth: Any, features_template: dict[str, Any]
) -> None:
    role = features_template["Resources"][synth.logical_id(synth.stacks.features.indexer.role)]["Properties"]
    assert role["RoleName"] == {"Fn::Join": ["", ["llm-twin-dev-feature-indexer-", {"Ref": "AWS::Region"}]]}
    assert [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == [
        {"Service": "lambda.amazonaws.com"}
    ]
    assert "ManagedPolicyArns" not in role
