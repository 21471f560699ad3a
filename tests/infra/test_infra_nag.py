"""cdk-nag (AwsSolutions) runs on synth and every finding is fixed or acknowledged with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.nag import MIN_REASON_LENGTH

pytestmark = pytest.mark.infra

DOMAIN_PATHS = "arn:<AWS::Partition>:es:<AWS::Region>:<AWS::AccountId>:domain/llm-twin-dev/*"
# The API function may POST only to the index alias' query APIs (VectorIndex.grant_read).
SEARCH_PATHS = [
    f"arn:<AWS::Partition>:es:<AWS::Region>:<AWS::AccountId>:domain/llm-twin-dev/llm-twin-chunks*/{api}"
    for api in ("_search", "_msearch", "_count", "_mget")
]

# Every acknowledgment in the app: rule id -> constructs (path suffixes) it is allowed on.
ASSETS_OBJECTS = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*"
ARTIFACTS = "arn:<AWS::Partition>:s3:::llm-twin-dev-artifacts-<AWS::AccountId>-<AWS::Region>"
SAGEMAKER = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>"
SAGEMAKER_LOGS = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker"
EXECUTIONS = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution"
RUN_BUCKET = "<CollectionWorkflowRunBucketC339679C.Arn>"  # the collection runs' work files
EXPECTED_ACKNOWLEDGMENTS = {
    "AwsSolutions-L1": {
        "Validate/Function",
        "Crawl/Function",
        "Finalize/Function",
        "Indexer/Function",
        "Api/Handler/Function",
        # The web page's BucketDeployment: a CDK singleton function whose runtime CDK chooses.
        "Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C256MiB",
    },
    "AwsSolutions-IAM5[Resource::*]": {
        "Validate/Role",
        "Crawl/Role",
        "Finalize/Role",
        "StateMachine/Role",
        "Indexer/Role",
        "TrainingWorkflow/SageMakerRole",
        "Api/Handler/Role",
        "LmiEndpoint/ExecutionRole",
    },
    # OpenSearch HTTP permissions are path-scoped under the domain ARN (the indexer's and the API's roles).
    f"AwsSolutions-IAM5[Resource::{DOMAIN_PATHS}]": {"Indexer/Role", "Api/Handler/Role"},
    **{f"AwsSolutions-IAM5[Resource::{path}]": {"Api/Handler/Role"} for path in SEARCH_PATHS},
    "AwsSolutions-SQS3": {
        "RecrawlSchedule/DeadLetterQueue",
        "FeatureIndexer/DeadLetterQueue",
        "TrainingWorkflow/Schedule/DeadLetterQueue",
    },
    # The vector index domain: public endpoint + IAM, no IP allowlist, no dedicated masters, one AZ.
    "AwsSolutions-OS1": {"VectorIndex/Domain"},
    "AwsSolutions-OS3": {"VectorIndex/Domain"},
    "AwsSolutions-OS4": {"VectorIndex/Domain"},
    "AwsSolutions-OS7": {"VectorIndex/Domain"},
    # The REST API: no WAF (cost), API keys instead of an authorizer / Cognito, no execution logs.
    "AwsSolutions-APIG3": {"Api/RestApi"},
    "AwsSolutions-APIG4": {"Api/RestApi"},
    "AwsSolutions-COG4": {"Api/RestApi"},
    "AwsSolutions-APIG6": {"Api/RestApi"},
    # The web page: the log bucket logs nowhere, the distribution has no WAF/geo restriction and the
    # default cloudfront.net certificate; the deployment role writes objects under its two buckets.
    "AwsSolutions-S1": {"Web/Logs"},
    "AwsSolutions-CFR1": {"Web/Distribution"},
    "AwsSolutions-CFR2": {"Web/Distribution"},
    "AwsSolutions-CFR4": {"Web/Distribution"},
    f"AwsSolutions-IAM5[Resource::{ASSETS_OBJECTS}]": {"Web/DeploymentRole"},
    "AwsSolutions-IAM5[Resource::<WebBucketE51352C0.Arn>/*]": {"Web/DeploymentRole"},
    # The training workflow: object prefixes of its bucket, its log groups, its own job name prefixes.
    **{
        f"AwsSolutions-IAM5[Resource::{ARTIFACTS}/{prefix}/*]": {"TrainingWorkflow/SageMakerRole"}
        for prefix in ("datasets", "checkpoints", "code")
    },
    # Approved model packages live under models/ (training writes, the LMI endpoint role reads).
    f"AwsSolutions-IAM5[Resource::{ARTIFACTS}/models/*]": {
        "TrainingWorkflow/SageMakerRole",
        "LmiEndpoint/ExecutionRole",
    },
    f"AwsSolutions-IAM5[Resource::{SAGEMAKER_LOGS}/Endpoints/llm-twin-dev-lmi:*]": {
        "LmiEndpoint/ExecutionRole"
    },
    f"AwsSolutions-IAM5[Resource::{ARTIFACTS}/evaluations/*]": {
        "TrainingWorkflow/SageMakerRole",
        "TrainingWorkflow/StateMachine/Role",
    },
    **{
        f"AwsSolutions-IAM5[Resource::{SAGEMAKER_LOGS}/{group}:*]": {"TrainingWorkflow/SageMakerRole"}
        for group in ("TrainingJobs", "ProcessingJobs")
    },
    **{
        f"AwsSolutions-IAM5[Resource::{SAGEMAKER}:{kind}/llm-twin-dev-{step}-*]": {
            "TrainingWorkflow/StateMachine/Role"
        }
        for kind, step in (
            ("training-job", "sft"),
            ("training-job", "dpo"),
            ("processing-job", "data"),
            ("processing-job", "eval"),
        )
    },
    f"AwsSolutions-IAM5[Resource::{SAGEMAKER}:model-package/llm-twin-dev-twin/*]": {
        "TrainingWorkflow/StateMachine/Role",  # CreateModelPackage
        "TrainingWorkflow/SageMakerRole",  # DescribeModelPackage: the evaluation's current model
    },
    # GET /collections|training/{id}: DescribeExecution on the two machines' executions (names per run);
    # the collection machine's Distributed Map describes/stops its own executions and child executions.
    f"AwsSolutions-IAM5[Resource::{EXECUTIONS}:llm-twin-dev-training:*]": {"Api/Handler/Role"},
    f"AwsSolutions-IAM5[Resource::{EXECUTIONS}:llm-twin-dev-collection:*]": {
        "Api/Handler/Role",
        "CollectionWorkflow/StateMachine/Role",
    },
    f"AwsSolutions-IAM5[Resource::{EXECUTIONS}:llm-twin-dev-collection/*]": {
        "CollectionWorkflow/StateMachine/Role"
    },
    # The Distributed Map's items (Validate writes them) and results, under runs/<run_id>/ of the run bucket.
    f"AwsSolutions-IAM5[Resource::{RUN_BUCKET}/runs/*/targets.json]": {
        "CollectionWorkflow/Validate/Role",
        "CollectionWorkflow/StateMachine/Role",
    },
    f"AwsSolutions-IAM5[Resource::{RUN_BUCKET}/runs/*/results/*]": {"CollectionWorkflow/StateMachine/Role"},
}


def test_synth_passed_policy_validation(synth: Any) -> None:
    # The session fixture synthesized with the AwsSolutions plugin: an unacknowledged finding raises.
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert all(not plugin.get("violations") for plugin in report["pluginReports"]), report


def _acknowledgments(synth: Any) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every acknowledgment written to template metadata."""
    from aws_cdk import CfnResource, Stack

    paths = {}
    for construct in synth.app.node.find_all():
        if isinstance(construct, CfnResource):
            stack = Stack.of(construct)
            paths[(stack.node.id, stack.resolve(construct.logical_id))] = construct.node.path
    found = []
    for stack_id, template in synth.templates.items():
        for logical_id, resource in template["Resources"].items():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                found.append((paths[(stack_id, logical_id)], rule["id"], rule["reason"]))
    return found


def test_acknowledgments_are_the_expected_ones_with_reasons(synth: Any) -> None:
    found = _acknowledgments(synth)
    assert {rule for _path, rule, _reason in found} == set(EXPECTED_ACKNOWLEDGMENTS)
    for path, rule, reason in found:
        assert any(f"/{suffix}/" in path for suffix in EXPECTED_ACKNOWLEDGMENTS[rule]), (rule, path)
        assert len(reason) >= MIN_REASON_LENGTH


def test_an_unacknowledged_finding_fails_synth(tmp_path: Any) -> None:
    from aws_cdk import aws_sqs as sqs

    from infra.application import create_app

    app, stacks = create_app({"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path), environ={})
    sqs.Queue(stacks.collection, "QueueWithoutTls")  # AwsSolutions-SQS3 and SQS4
    with pytest.raises(RuntimeError, match="ValidationFailed") as raised:
        app.synth()
    assert "LlmTwinCollectionStack/QueueWithoutTls/Resource" in str(raised.value)
    assert "AwsSolutions-SQS4" in str(raised.value)
    assert (tmp_path / "validation-report.json").is_file()
