"""Least privilege: no wildcard actions, '*' resources only where AWS allows nothing narrower."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.infra

STACK = "LlmTwinCollectionStack"
# Actions without resource-level permissions: the only ones allowed on Resource "*".
RESOURCE_STAR_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "ecr:GetAuthorizationToken",  # SageMaker pulling the DLC images: the token call has no resource
    "sagemaker:ListModelPackages",  # the evaluation job finding the approved model: no resource type
    "cloudwatch:PutMetricData",  # the LMI endpoint role; narrowed by a cloudwatch:namespace condition
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_action_anywhere(synth: Any) -> None:
    statements = list(synth.all_iam_statements())
    assert statements
    for where, statement in statements:
        for action in as_list(statement.get("Action", [])):
            assert "*" not in action, f"{where}: wildcard action {action}"
        assert "NotAction" not in statement, where


def test_resource_star_only_for_actions_without_resource_level_permissions(synth: Any) -> None:
    for where, statement in synth.all_iam_statements():
        if "*" in as_list(statement["Resource"]):
            actions = set(as_list(statement["Action"]))
            assert actions <= RESOURCE_STAR_ACTIONS, f"{where}: {actions - RESOURCE_STAR_ACTIONS} on '*'"


def test_no_aws_managed_policies(synth: Any) -> None:
    for template in synth.templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::IAM::Role":
                assert "ManagedPolicyArns" not in resource["Properties"]


def test_function_roles(synth: Any) -> None:
    workflow = synth.stacks.collection.workflow
    table_arn = synth.stacks.data.resolve(synth.stacks.data.warehouse.table.table_arn)
    assert table_arn == {"Fn::GetAtt": [synth.logical_id(synth.stacks.data.warehouse.table), "Arn"]}
    for fn in workflow.functions.values():
        statements = synth.policy_statements(STACK, synth.logical_id(fn.role))
        by_service: dict[str, dict[str, Any]] = {}
        for statement in statements:
            assert statement["Effect"] == "Allow"
            services = {a.split(":")[0] for a in as_list(statement["Action"])}
            assert len(services) == 1, statement
            by_service[services.pop()] = statement
        # validate also writes the run's targets object (and only that: runs/*/targets.json, PutObject)
        assert set(by_service) == {"logs", "xray", "dynamodb"} | (
            {"s3"} if fn is workflow.validate else set()
        )
        assert by_service["logs"]["Resource"] == {"Fn::GetAtt": [synth.logical_id(fn.log_group), "Arn"]}
        assert sorted(by_service["logs"]["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        dynamo = by_service["dynamodb"]
        # table + the named GSI (imported from the data stack), never index/*
        resources = as_list(dynamo["Resource"])
        assert len(resources) == 1 + len(synth.stacks.data.warehouse.index_names)
        assert all("*" not in str(r) for r in resources)
        assert set(resources[0]) == {"Fn::ImportValue"}
        assert "dynamodb:PutItem" in dynamo["Action"]
        if fn is workflow.validate:
            bucket_id = synth.logical_id(workflow.run_bucket)
            assert by_service["s3"]["Action"] == "s3:PutObject"
            assert by_service["s3"]["Resource"] == {
                "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/runs/*/targets.json"]]
            }


def test_state_machine_role_invokes_exactly_the_three_functions(synth: Any) -> None:
    workflow = synth.stacks.collection.workflow
    role_id = synth.logical_id(workflow.state_machine.role)
    statements = synth.policy_statements(STACK, role_id)
    invoke = [s for s in statements if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert len(invoke) == 1
    assert as_list(invoke[0]["Action"]) == ["lambda:InvokeFunction"]
    expected = sorted(
        ({"Fn::GetAtt": [synth.logical_id(f.function), "Arn"]} for f in workflow.functions.values()), key=str
    )
    assert sorted(invoke[0]["Resource"], key=str) == expected  # unqualified ARNs, no ":*"
    services = {a.split(":")[0] for s in statements for a in as_list(s["Action"])}
    assert services == {"lambda", "logs", "xray", "states", "s3"}
    trust = synth.templates[STACK]["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "states.amazonaws.com"}]


def test_state_machine_role_runs_its_distributed_map_and_nothing_more(synth: Any) -> None:
    """Start child executions of itself only; describe/stop its own executions; read the targets object,
    write the results; nothing else of S3 or Step Functions."""
    workflow = synth.stacks.collection.workflow
    statements = synth.policy_statements(STACK, synth.logical_id(workflow.state_machine.role))
    resolve = synth.stacks.collection.resolve
    granted = {
        tuple(sorted(as_list(s["Action"]))): (
            sorted(resolve(s["Resource"]), key=str)
            if isinstance(s["Resource"], list)
            else resolve(s["Resource"])
        )
        for s in statements
        if {a.split(":")[0] for a in as_list(s["Action"])} & {"states", "s3"}
    }
    arn = [
        "arn:",
        {"Ref": "AWS::Partition"},
        ":states:",
        {"Ref": "AWS::Region"},
        ":",
        {"Ref": "AWS::AccountId"},
    ]
    bucket = {"Fn::GetAtt": [synth.logical_id(workflow.run_bucket), "Arn"]}
    assert granted == {
        ("states:StartExecution",): {"Fn::Join": ["", [*arn, ":stateMachine:llm-twin-dev-collection"]]},
        ("states:DescribeExecution", "states:StopExecution"): sorted(
            [
                {"Fn::Join": ["", [*arn, ":execution:llm-twin-dev-collection:*"]]},  # its executions
                {"Fn::Join": ["", [*arn, ":execution:llm-twin-dev-collection/*"]]},  # the Map's children
            ],
            key=str,
        ),
        ("s3:GetObject",): {"Fn::Join": ["", [bucket, "/runs/*/targets.json"]]},
        ("s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"): {
            "Fn::Join": ["", [bucket, "/runs/*/results/*"]]
        },
    }
    # The name in those ARNs is the machine's own (no reference: that would be a dependency cycle).
    machine = synth.templates[STACK]["Resources"][synth.logical_id(workflow.state_machine)]
    assert machine["Properties"]["StateMachineName"] == "llm-twin-dev-collection"


def test_scheduler_role_starts_only_this_state_machine(synth: Any) -> None:
    collection = synth.stacks.collection
    role_id = synth.logical_id(collection.recrawl.role)
    statements = synth.policy_statements(STACK, role_id)
    sm_id = synth.logical_id(collection.workflow.state_machine)
    dlq_id = synth.logical_id(collection.recrawl.dead_letter_queue)
    simplified = sorted((s["Effect"], s["Action"], str(s["Resource"])) for s in statements)
    assert simplified == sorted(
        [
            ("Allow", "states:StartExecution", str({"Ref": sm_id})),
            # Scheduler delivers dead letters with the execution role.
            ("Allow", "sqs:SendMessage", str({"Fn::GetAtt": [dlq_id, "Arn"]})),
        ]
    )
    trust = synth.templates[STACK]["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert set(statement["Condition"]["StringEquals"]) == {"aws:SourceAccount", "aws:SourceArn"}


def test_log_key_policy_scopes_cloudwatch_logs_to_this_account(synth: Any) -> None:
    key = synth.only("LlmTwinDataStack", "AWS::KMS::Key")["Properties"]
    assert key["EnableKeyRotation"] is True
    (logs_statement,) = [
        s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowCloudWatchLogsOfThisAccount"
    ]
    assert all("*" not in a for a in logs_statement["Action"])
    assert "kms:EncryptionContext:aws:logs:arn" in logs_statement["Condition"]["ArnLike"]
