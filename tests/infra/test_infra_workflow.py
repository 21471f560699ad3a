"""The state machine AWS runs is the ASL file, byte for byte, wired to the right functions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from llm_twin.workflows.catalog import COLLECTION

pytestmark = pytest.mark.infra

STACK = "LlmTwinCollectionStack"


@pytest.fixture(scope="module")
def state_machine(synth: Any) -> dict[str, Any]:
    return synth.only(STACK, "AWS::StepFunctions::StateMachine")


def test_definition_string_is_the_file(state_machine: dict[str, Any]) -> None:
    assert state_machine["Properties"]["DefinitionString"] == COLLECTION.asl_path.read_text(encoding="utf-8")
    assert "DefinitionS3Location" not in state_machine["Properties"]


def test_every_placeholder_is_substituted_by_its_function(synth: Any, state_machine: dict[str, Any]) -> None:
    props = state_machine["Properties"]
    placeholders = set(re.findall(r"\$\{([^}]*)\}", props["DefinitionString"]))
    substitutions = props["DefinitionSubstitutions"]
    assert placeholders == set(substitutions) == set(COLLECTION.functions)
    functions = synth.stacks.collection.workflow.functions
    for placeholder, folder in COLLECTION.functions.items():
        assert substitutions[placeholder] == {
            "Fn::GetAtt": [synth.logical_id(functions[folder].function), "Arn"]
        }
    # and each such function's code is that lambdas/ folder
    resources = synth.templates[STACK]["Resources"]
    for folder, fn in functions.items():
        assert fn.handler_name == folder
        assert resources[synth.logical_id(fn.function)]["Type"] == "AWS::Lambda::Function"


def test_local_runner_accepts_the_synthesized_definition(state_machine: dict[str, Any]) -> None:
    definitions = pytest.importorskip("llm_twin.workflows.definitions")
    fake = {
        name: f"arn:aws:lambda:us-east-1:123456789012:function:{folder}"
        for name, folder in COLLECTION.functions.items()
    }
    deployed = definitions.load_definition(state_machine["Properties"]["DefinitionString"], fake)
    assert deployed == definitions.load_definition(COLLECTION.asl_path, fake)
    definitions.validate_definition(deployed)


def test_standard_traced_and_logging_all(synth: Any, state_machine: dict[str, Any]) -> None:
    props = state_machine["Properties"]
    workflow = synth.stacks.collection.workflow
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    log_group_id = synth.logical_id(workflow.log_group)
    assert props["LoggingConfiguration"] == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}],
        "IncludeExecutionData": True,
        "Level": "ALL",
    }
    group = synth.templates[STACK]["Resources"][log_group_id]
    assert group["Properties"]["RetentionInDays"] == 30
    assert set(group["Properties"]["KmsKeyId"]) == {"Fn::ImportValue"}
    prefix = group["Properties"]["LogGroupName"]["Fn::Join"][1][0]
    assert prefix.startswith("/aws/vendedlogs/states/llm-twin-dev-collection-")
    assert props["RoleArn"] == {"Fn::GetAtt": [synth.logical_id(workflow.state_machine.role), "Arn"]}


def test_construct_rejects_an_asl_the_catalog_does_not_wire(tmp_path: Any) -> None:
    from dataclasses import replace

    from aws_cdk import App, Stack
    from aws_cdk import aws_kms as kms

    from infra.config import InfraConfig
    from infra.constructs.collection_workflow import CollectionWorkflow
    from infra.constructs.shared_layer import SharedLayer
    from infra.constructs.warehouse import Warehouse

    asl = tmp_path / "collection.asl.json"
    asl.write_text(COLLECTION.asl_path.read_text().replace("${FinalizeFunctionArn}", "${OtherFunctionArn}"))
    spec = replace(COLLECTION, asl_file=str(asl))  # asl_path joins an absolute path as-is
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "S")
    config = InfraConfig()
    with pytest.raises(ValueError, match="OtherFunctionArn"):
        CollectionWorkflow(
            stack,
            "W",
            config=config,
            warehouse=Warehouse(stack, "Wh", config=config),
            shared_layer=SharedLayer(stack, "L"),
            log_key=kms.Key(stack, "K"),
            spec=spec,
        )


def test_the_map_is_distributed_and_reads_and_writes_through_validate_s_output() -> None:
    """No bucket placeholder: Validate (which has the bucket in LLM_TWIN_COLLECTION_BUCKET) says where the
    targets and results go, so the definition's substitutions stay the three functions."""
    import json

    crawl_links = json.loads(COLLECTION.asl_path.read_text())["States"]["CrawlLinks"]
    assert crawl_links["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert crawl_links["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket.$": "$.targets.bucket", "Key.$": "$.targets.key"},
    }
    assert crawl_links["ResultWriter"]["Parameters"] == {
        "Bucket.$": "$.results.bucket",
        "Prefix.$": "$.results.prefix",
    }
    assert crawl_links["ToleratedFailurePercentage"] == 100  # one failed child never fails the run
    assert crawl_links["MaxConcurrencyPath"] == "$.max_concurrency"
    assert crawl_links["ResultPath"] is None


def test_run_bucket(synth: Any) -> None:
    from llm_twin.collection.run_objects import RUNS_PREFIX

    workflow = synth.stacks.collection.workflow
    resources = synth.templates[STACK]["Resources"]
    bucket = resources[synth.logical_id(workflow.run_bucket)]
    props = bucket["Properties"]
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "VersioningConfiguration" not in props  # each object is written once per run
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireRunObjects"] == {
        "Id": "ExpireRunObjects",
        "Prefix": f"{RUNS_PREFIX}/",
        "ExpirationInDays": 7,
        "Status": "Enabled",
    }
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    log_bucket_id = synth.logical_id(workflow.run_log_bucket)
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket_id}
    assert bucket["DeletionPolicy"] == "Retain"
    # TLS only: the bucket policy denies every request without aws:SecureTransport
    (policy,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        and r["Properties"]["Bucket"] == {"Ref": synth.logical_id(workflow.run_bucket)}
    ]
    (deny,) = [st for st in policy["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
