"""The SageMaker LMI endpoint (issue 6): model, endpoint config, endpoint, autoscaling, hours, alarms, IAM.

A test stack holds :class:`LmiEndpoint` and the real constructs it needs (log key, alarm topic, artifacts
bucket). Three builds: the default (endpoint off: only the execution role and the log group), a
model-package endpoint with autoscaling and ``scale`` working hours (region-agnostic), and an S3
model-data endpoint on an EBS-backed instance with ``stop`` working hours (region pinned). Each is
synthesized with cdk-nag and linted with cfn-lint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.endpoint_config import EndpointConfig, EndpointScheduleConfig, parse_endpoint_config
from training.sagemaker import images
from training.sagemaker.deploy import ASYNC_ENTRYPOINT, ServingOptions, lmi_environment

pytestmark = pytest.mark.infra

STACK = "EndpointTest"
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}
ENDPOINT = "llm-twin-dev-lmi"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/llm-twin-dev-twin/7"
EXTERNAL_MODEL = "s3://my-models/twin/merged/"
ARTIFACTS = "arn:<AWS::Partition>:s3:::llm-twin-dev-artifacts-<AWS::AccountId>-<AWS::Region>"
LOG_GROUP = (
    f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/{ENDPOINT}"
)


@dataclass
class Built:
    stack: Any
    endpoint: Any
    template: dict[str, Any]
    template_path: Path
    app: Any

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == cfn_type}

    def only(self, cfn_type: str) -> dict[str, Any]:
        found = self.resources(cfn_type)
        assert len(found) == 1, sorted(found)
        return next(iter(found.values()))

    def logical_id(self, construct: Any) -> str:
        element = getattr(construct.node, "default_child", None) or construct
        return str(self.stack.resolve(self.stack.get_logical_id(element)))

    def statements(self, role: Any) -> list[dict[str, Any]]:
        role_id = self.logical_id(role)
        found = []
        for resource in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role_id} in resource["Properties"]["Roles"]:
                found += resource["Properties"]["PolicyDocument"]["Statement"]
        return found

    def by_sid(self, role: Any) -> dict[str, dict[str, Any]]:
        return {s["Sid"]: s for s in self.statements(role) if "Sid" in s}


def build(outdir: Path, endpoint: EndpointConfig, *, region: str | None = None) -> Built:
    from aws_cdk import App, Environment, Stack

    from infra.application import cdk_json_context
    from infra.config import InfraConfig
    from infra.constructs.lmi_endpoint import LmiEndpoint
    from infra.constructs.log_encryption import LogEncryption
    from infra.constructs.monitoring import Monitoring
    from infra.constructs.training_buckets import TrainingArtifacts
    from infra.nag import add_nag_checks

    config = InfraConfig()
    app = App(context={**cdk_json_context(), **NO_BUNDLING}, outdir=str(outdir))
    stack = Stack(app, STACK, env=Environment(region=region) if region else None)
    log_key = LogEncryption(stack, "LogEncryption", config=config).key
    monitoring = Monitoring(stack, "Monitoring", config=config)
    artifacts = TrainingArtifacts(stack, "TrainingArtifacts", config=config)
    construct = LmiEndpoint(
        stack,
        "LmiEndpoint",
        config=config,
        artifacts=artifacts,
        log_key=log_key,
        topic=monitoring.topic,
        endpoint=endpoint,
    )
    add_nag_checks(app)
    artifact = app.synth().get_stack_artifact(STACK)
    return Built(stack, construct, artifact.template, Path(artifact.template_full_path), app)


def config_of(values: dict[str, Any]) -> EndpointConfig:
    return parse_endpoint_config(lambda key: values.get(key))


@pytest.fixture(scope="module")
def node() -> None:
    if shutil.which("node") is None:
        pytest.skip("the CDK needs node on PATH")


@pytest.fixture(scope="module")
def disabled(node: None, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.mktemp("endpoint-off"), EndpointConfig())


@pytest.fixture(scope="module")
def package(node: None, tmp_path_factory: pytest.TempPathFactory) -> Built:
    cfg = config_of(
        {
            "endpointEnabled": "true",
            "endpointModelPackageArn": PACKAGE,
            "endpointMaxInstances": "3",
            "endpointSchedule": {"mode": "scale", "timeZone": "Europe/Berlin", "offHoursMaxInstances": 1},
        }
    )
    return build(tmp_path_factory.mktemp("endpoint-package"), cfg)


@pytest.fixture(scope="module")
def stopped_nightly(node: None, tmp_path_factory: pytest.TempPathFactory) -> Built:
    cfg = config_of(
        {
            "endpointEnabled": True,
            "endpointModelDataUrl": EXTERNAL_MODEL,
            "endpointInstanceType": "ml.p3.2xlarge",
            "endpointEngine": "rolling-batch",
            "endpointSchedule": json.dumps(
                {
                    "mode": "stop",
                    "upExpression": "cron(30 7 ? * MON-FRI *)",
                    "downExpression": "cron(0 20 ? * MON-FRI *)",
                    "timeZone": "America/New_York",
                }
            ),
        }
    )
    return build(tmp_path_factory.mktemp("endpoint-stop"), cfg, region="eu-central-1")


# --- always there: execution role and log group -----------------------------------------------------


def test_disabled_endpoint_creates_only_the_role_and_the_log_group(disabled: Built) -> None:
    types = {r["Type"] for k, r in disabled.template["Resources"].items() if k.startswith("LmiEndpoint")}
    assert types == {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::Logs::LogGroup"}
    assert disabled.endpoint.model is None and disabled.endpoint.endpoint is None
    assert not disabled.resources("AWS::SageMaker::Endpoint")
    assert not disabled.resources("AWS::ApplicationAutoScaling::ScalableTarget")


def test_log_group_is_the_one_sagemaker_writes_encrypted_with_retention(disabled: Built) -> None:
    log_group = disabled.template["Resources"][disabled.logical_id(disabled.endpoint.log_group)]
    assert log_group["Properties"]["LogGroupName"] == f"/aws/sagemaker/Endpoints/{ENDPOINT}"
    assert log_group["Properties"]["RetentionInDays"] == 30
    assert "KmsKeyId" in log_group["Properties"]
    assert log_group["DeletionPolicy"] == "Delete"  # a retained group would block re-creating the stack


def test_execution_role_is_least_privilege(disabled: Built) -> None:
    role = disabled.template["Resources"][disabled.logical_id(disabled.endpoint.role)]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role["Properties"]

    statements = disabled.statements(disabled.endpoint.role)
    resolved = {
        json.dumps(s["Action"], sort_keys=True): disabled.stack.resolve(s["Resource"]) for s in statements
    }
    sids = disabled.by_sid(disabled.endpoint.role)
    assert set(sids) == {"ModelDataRead", "PullLmiImage", "EcrToken", "EndpointLogs", "EndpointMetrics"}
    assert len(statements) == 6  # + the unnamed ListBucket of TrainingArtifacts.grant_list
    assert sids["ModelDataRead"]["Action"] == "s3:GetObject"
    assert json.dumps(sids["ModelDataRead"]["Resource"]).endswith('"/models/*"]]}')
    (listing,) = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/*", "models"]}}
    assert sorted(sids["PullLmiImage"]["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert json.dumps(sids["PullLmiImage"]["Resource"]).endswith(':repository/djl-inference"]]}')
    assert sids["EcrToken"] == {
        "Sid": "EcrToken",
        "Action": "ecr:GetAuthorizationToken",
        "Effect": "Allow",
        "Resource": "*",
    }
    assert sids["EndpointMetrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}
    }
    assert sorted(sids["EndpointLogs"]["Action"]) == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]
    assert all("*" not in json.dumps(a) for a in resolved)  # no wildcard actions


def test_disabled_build_acknowledges_exactly_the_role_findings(disabled: Built) -> None:
    assert acknowledged(disabled) == {
        ("LmiEndpoint/ExecutionRole", "AwsSolutions-IAM5[Resource::*]"),
        ("LmiEndpoint/ExecutionRole", f"AwsSolutions-IAM5[Resource::{ARTIFACTS}/models/*]"),
        ("LmiEndpoint/ExecutionRole", f"AwsSolutions-IAM5[Resource::{LOG_GROUP}:*]"),
    }


# --- model package endpoint with autoscaling and "scale" hours ----------------------------------------


def test_model_is_the_approved_package_with_the_serving_environment(package: Built) -> None:
    model = package.only("AWS::SageMaker::Model")["Properties"]
    assert model["PrimaryContainer"] == {
        "ModelPackageName": PACKAGE,
        "Environment": lmi_environment(ServingOptions()),
    }
    env = model["PrimaryContainer"]["Environment"]
    assert env["OPTION_ASYNC_MODE"] == "true" and env["OPTION_ENTRYPOINT"] == ASYNC_ENTRYPOINT
    assert env["OPTION_MAX_MODEL_LEN"] == "4096" and env["OPTION_TENSOR_PARALLEL_DEGREE"] == "max"
    assert env["OPTION_DTYPE"] == "bf16" and env["OPTION_MAX_ROLLING_BATCH_SIZE"] == "32"
    assert model["ExecutionRoleArn"] == {"Fn::GetAtt": [package.logical_id(package.endpoint.role), "Arn"]}
    assert package.endpoint.image_uri is None  # the package's image


def test_endpoint_config_variant_and_no_volume_key_on_nvme_instances(package: Built) -> None:
    props = package.only("AWS::SageMaker::EndpointConfig")["Properties"]
    (variant,) = props["ProductionVariants"]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": {"Fn::GetAtt": [package.logical_id(package.endpoint.model), "ModelName"]},
        "InstanceType": "ml.g5.xlarge",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": 1,
        "ContainerStartupHealthCheckTimeoutInSeconds": 900,
        "ModelDataDownloadTimeoutInSeconds": 900,
    }
    assert "KmsKeyId" not in props and package.endpoint.volume_key is None
    assert not [k for k in package.resources("AWS::KMS::Key") if k.startswith("LmiEndpoint")]


def test_endpoint_has_the_name_the_api_invokes_and_rolls_back_on_model_errors(package: Built) -> None:
    from infra.config import InfraConfig

    endpoint = package.only("AWS::SageMaker::Endpoint")["Properties"]
    assert endpoint["EndpointName"] == InfraConfig().lmi_endpoint_name == ENDPOINT
    assert endpoint["EndpointConfigName"] == {
        "Fn::GetAtt": [package.logical_id(package.endpoint.endpoint_config), "EndpointConfigName"]
    }
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    assert policy["TerminationWaitInSeconds"] == 600
    errors_alarm = package.logical_id(package.endpoint.alarms["ModelErrors"])
    assert endpoint["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": {"Ref": errors_alarm}}]
    }


def test_autoscaling_tracks_invocations_per_instance(package: Built) -> None:
    target_id, target = next(iter(package.resources("AWS::ApplicationAutoScaling::ScalableTarget").items()))
    props = target["Properties"]
    assert props["ServiceNamespace"] == "sagemaker"
    assert props["ResourceId"] == f"endpoint/{ENDPOINT}/variant/AllTraffic"
    assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (props["MinCapacity"], props["MaxCapacity"]) == (1, 3)
    assert "RoleARN" not in props  # the service-linked role
    assert package.logical_id(package.endpoint.endpoint) in target["DependsOn"]
    policy = package.only("AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["ScalingTargetId"] == {"Ref": target_id}
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "TargetValue": 30,
        "ScaleOutCooldown": 300,
        "ScaleInCooldown": 900,
    }


def test_scale_hours_are_scheduled_actions_in_the_time_zone(package: Built) -> None:
    props = package.only("AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    actions = {a["ScheduledActionName"]: a for a in props["ScheduledActions"]}
    assert actions["working-hours-start"] == {
        "ScheduledActionName": "working-hours-start",
        "Schedule": "cron(0 8 ? * MON-FRI *)",
        "Timezone": "Europe/Berlin",
        "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 3},
    }
    assert actions["working-hours-end"]["Schedule"] == "cron(0 19 ? * MON-FRI *)"
    assert actions["working-hours-end"]["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 1}
    assert not package.resources("AWS::Scheduler::Schedule")


def test_alarms_watch_latency_and_model_errors_and_notify(package: Built) -> None:
    topic = {"Ref": next(k for k in package.resources("AWS::SNS::Topic"))}
    alarms = {
        k: v["Properties"]
        for k, v in package.resources("AWS::CloudWatch::Alarm").items()
        if "LmiEndpoint" in k
    }
    by_metric = {a["MetricName"]: a for a in alarms.values()}
    assert set(by_metric) == {"ModelLatency", "InvocationModelErrors"}  # 5xx: ApiMonitoring's alarm
    for alarm in by_metric.values():
        assert alarm["Namespace"] == "AWS/SageMaker"
        assert alarm["Dimensions"] == [
            {"Name": "EndpointName", "Value": ENDPOINT},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ]
        assert alarm["Period"] == 300 and alarm["EvaluationPeriods"] == 1
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
    latency = by_metric["ModelLatency"]
    assert latency["ExtendedStatistic"] == "p95"
    assert latency["Threshold"] == 20_000_000  # microseconds
    errors = by_metric["InvocationModelErrors"]
    assert (errors["Statistic"], errors["Threshold"]) == ("Sum", 1)
    assert errors["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_ecr_grant_uses_the_region_mapping_when_region_agnostic(package: Built) -> None:
    # The image comes from the package; the ECR pull grant still names the LMI repository per region.
    assert "Mappings" in package.template
    pull = package.by_sid(package.endpoint.role)["PullLmiImage"]
    assert "Fn::FindInMap" in json.dumps(pull["Resource"])


# --- S3 model data, EBS instance, "stop" hours ------------------------------------------------------


def test_s3_model_data_uses_the_pinned_lmi_image_uncompressed(stopped_nightly: Built) -> None:
    container = stopped_nightly.only("AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]
    assert container["Image"] == images.inference_image_uri("eu-central-1")
    assert container["ModelDataSource"] == {
        "S3DataSource": {"S3Uri": EXTERNAL_MODEL, "S3DataType": "S3Prefix", "CompressionType": "None"}
    }
    assert container["Environment"]["OPTION_ROLLING_BATCH"] == "vllm"
    assert "OPTION_ASYNC_MODE" not in container["Environment"]


def test_model_data_outside_the_models_prefix_is_granted_exactly(stopped_nightly: Built) -> None:
    sids = stopped_nightly.by_sid(stopped_nightly.endpoint.role)
    resources = stopped_nightly.stack.resolve(sids["ModelDataRead"]["Resource"])
    assert json.dumps(resources).count(":s3:::my-models/twin/merged/*") == 1
    assert sids["ModelDataList"]["Condition"] == {
        "StringLike": {"s3:prefix": ["twin/merged/", "twin/merged/*"]}
    }


def test_ebs_instances_get_a_volume_key(stopped_nightly: Built) -> None:
    props = stopped_nightly.only("AWS::SageMaker::EndpointConfig")["Properties"]
    key_id = stopped_nightly.logical_id(stopped_nightly.endpoint.volume_key)
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert stopped_nightly.template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert props["ProductionVariants"][0]["InstanceType"] == "ml.p3.2xlarge"


def test_stop_hours_leave_the_endpoint_to_the_schedules(stopped_nightly: Built) -> None:
    assert not stopped_nightly.resources("AWS::SageMaker::Endpoint")
    assert not stopped_nightly.resources("AWS::ApplicationAutoScaling::ScalableTarget")
    schedules = {
        json.dumps(v["Properties"]["Target"]["Arn"]): v["Properties"]
        for v in stopped_nightly.resources("AWS::Scheduler::Schedule").values()
    }
    (start,) = [p for arn, p in schedules.items() if "aws-sdk:sagemaker:createEndpoint" in arn]
    (stop,) = [p for arn, p in schedules.items() if "aws-sdk:sagemaker:deleteEndpoint" in arn]
    assert (start["ScheduleExpression"], stop["ScheduleExpression"]) == (
        "cron(30 7 ? * MON-FRI *)",
        "cron(0 20 ? * MON-FRI *)",
    )
    for schedule in (start, stop):
        assert schedule["ScheduleExpressionTimezone"] == "America/New_York"
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["State"] == "ENABLED"
        assert schedule["Target"]["RetryPolicy"] == {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 3600,
        }
        assert "DeadLetterConfig" in schedule["Target"]
    assert json.loads(stop["Target"]["Input"]) == {"EndpointName": ENDPOINT}
    config_id = stopped_nightly.logical_id(stopped_nightly.endpoint.endpoint_config)
    start_input = json.dumps(start["Target"]["Input"])
    assert f'"EndpointName\\":\\"{ENDPOINT}\\"' in start_input
    assert json.dumps({"Fn::GetAtt": [config_id, "EndpointConfigName"]}) in start_input


def test_schedule_role_may_only_create_and_delete_this_endpoint(stopped_nightly: Built) -> None:
    endpoint = stopped_nightly.endpoint
    role = stopped_nightly.template["Resources"][stopped_nightly.logical_id(endpoint.schedule_role)]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert set(trust["Condition"]["StringEquals"]) == {"aws:SourceAccount", "aws:SourceArn"}
    sids = stopped_nightly.by_sid(endpoint.schedule_role)
    assert set(sids) == {"StartEndpoint", "StopEndpoint", "DeadLetter"}
    assert len(stopped_nightly.statements(endpoint.schedule_role)) == 3
    assert sorted(sids["StartEndpoint"]["Action"]) == ["sagemaker:AddTags", "sagemaker:CreateEndpoint"]
    config_ref = {"Ref": stopped_nightly.logical_id(endpoint.endpoint_config)}
    assert config_ref in sids["StartEndpoint"]["Resource"]
    assert sids["StopEndpoint"]["Action"] == "sagemaker:DeleteEndpoint"
    endpoint_arn = json.dumps(stopped_nightly.stack.resolve(sids["StopEndpoint"]["Resource"]))
    assert endpoint_arn.endswith(f':endpoint/{ENDPOINT}"]]}}')
    assert sids["DeadLetter"]["Action"] == "sqs:SendMessage"


def test_stop_build_acknowledgments(stopped_nightly: Built) -> None:
    external = "arn:<AWS::Partition>:s3:::my-models/twin/merged/*"
    assert acknowledged(stopped_nightly) == {
        ("LmiEndpoint/ExecutionRole", "AwsSolutions-IAM5[Resource::*]"),
        ("LmiEndpoint/ExecutionRole", f"AwsSolutions-IAM5[Resource::{ARTIFACTS}/models/*]"),
        ("LmiEndpoint/ExecutionRole", f"AwsSolutions-IAM5[Resource::{LOG_GROUP}:*]"),
        ("LmiEndpoint/ExecutionRole", f"AwsSolutions-IAM5[Resource::{external}]"),
        ("LmiEndpoint/ScheduleDeadLetterQueue", "AwsSolutions-SQS3"),
        ("LmiEndpoint/ScheduleDeadLetterQueue/Policy", "AwsSolutions-SQS3"),  # the queue's children too
    }


# --- nag and lint -----------------------------------------------------------------------------------


def acknowledged(built: Built) -> set[tuple[str, str]]:
    """(construct path below the stack, rule) of every acknowledgment of the endpoint's resources."""
    from aws_cdk import CfnResource

    paths = {
        built.stack.resolve(c.logical_id): c.node.path
        for c in built.app.node.find_all()
        if isinstance(c, CfnResource)
    }
    found = set()
    for logical_id, resource in built.template["Resources"].items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            path = paths[logical_id]
            if "/LmiEndpoint/" in path:
                owner = path.split(f"{STACK}/", 1)[1].rsplit("/", 1)[0]
                owner = owner.removesuffix("/DefaultPolicy")
                found.add((owner, rule["id"]))
                assert len(rule["reason"]) >= 20
    return found


@pytest.mark.parametrize("name", ["disabled", "package", "stopped_nightly"])
def test_cdk_nag_passed(name: str, request: pytest.FixtureRequest) -> None:
    built: Built = request.getfixturevalue(name)
    report = json.loads((built.template_path.parent / "validation-report.json").read_text())
    assert all(not plugin.get("violations") for plugin in report["pluginReports"]), report


@pytest.mark.parametrize("name", ["package", "stopped_nightly"])
def test_cfn_lint_reports_no_errors(name: str, request: pytest.FixtureRequest) -> None:
    built: Built = request.getfixturevalue(name)
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    if not cfn_lint.exists():
        pytest.skip("cfn-lint is not installed (pip install -e .[dev])")
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--", str(built.template_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    assert all(":W" in line or ":I" in line for line in findings), findings


# --- configuration ----------------------------------------------------------------------------------


def test_default_config_is_off() -> None:
    cfg = config_of({})
    assert cfg == EndpointConfig()
    assert not cfg.enabled and cfg.model_source == "none" and not cfg.schedule.enabled
    assert (cfg.instance_type, cfg.min_instances, cfg.max_instances) == ("ml.g5.xlarge", 1, 2)


def test_config_overrides() -> None:
    cfg = config_of(
        {
            "endpointEnabled": "on",
            "endpointModelDataUrl": "s3://bkt/models/j/output/model/merged/",
            "endpointInstanceType": "ml.g6.12xlarge",
            "endpointInstanceCount": "2",
            "endpointMinInstances": "2",
            "endpointMaxInstances": "4",
            "endpointInvocationsPerInstance": "12",
            "endpointScaleOutCooldownSeconds": "120",
            "endpointScaleInCooldownSeconds": "600",
            "endpointHealthCheckTimeoutSeconds": "1200",
            "endpointModelDownloadTimeoutSeconds": "1800",
            "endpointMaxModelLen": "8192",
            "endpointTensorParallelDegree": "4",
            "endpointDtype": "fp16",
            "endpointMaxBatchSize": "64",
            "endpointEngine": "rolling-batch",
            "endpointLatencyAlarmMs": "15000",
            "endpointSchedule": "stop",
        }
    )
    assert cfg.model_source == "s3" and cfg.instance_count == 2
    assert (cfg.min_instances, cfg.max_instances, cfg.invocations_per_instance) == (2, 4, 12)
    assert (cfg.scale_out_cooldown_seconds, cfg.scale_in_cooldown_seconds) == (120, 600)
    assert (cfg.health_check_timeout_seconds, cfg.model_download_timeout_seconds) == (1200, 1800)
    assert cfg.serving == ServingOptions(
        max_model_len=8192,
        tensor_parallel_degree="4",
        dtype="fp16",
        max_batch_size=64,
        engine="rolling-batch",
    )
    assert cfg.latency_alarm_ms == 15000
    assert cfg.schedule == EndpointScheduleConfig(enabled=True, mode="stop")
    assert not cfg.cloudformation_owns_endpoint


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"endpointEnabled": "true"}, "needs the model"),
        ({"endpointEnabled": "maybe"}, "expected a boolean"),
        ({"endpointModelPackageArn": "llm-twin-dev-twin"}, "versioned model package ARN"),
        ({"endpointModelDataUrl": "s3://bkt/models/x/merged"}, "trailing"),
        ({"endpointModelDataUrl": "s3://bkt/x/", "endpointModelPackageArn": PACKAGE}, "not both"),
        ({"endpointInstanceType": "g5.xlarge"}, "endpointInstanceType"),
        ({"endpointMinInstances": "3", "endpointMaxInstances": "2"}, "endpointMaxInstances"),
        ({"endpointInstanceCount": "5"}, "endpointInstanceCount"),
        ({"endpointMaxInstances": "21"}, "1..20"),
        ({"endpointHealthCheckTimeoutSeconds": "4000"}, "60..3600"),
        ({"endpointTensorParallelDegree": "3"}, "endpointTensorParallelDegree"),
        ({"endpointDtype": "int4"}, "endpointDtype"),
        ({"endpointEngine": "tgi"}, "endpointEngine"),
        ({"endpointMaxModelLen": "100"}, "endpointMaxModelLen"),
        ({"endpointSchedule": "scale"}, "endpointEnabled is false"),
        ({"endpointSchedule": "{bad"}, "endpointSchedule"),
        ({"endpointSchedule": {"mode": "pause"}}, "'scale' or 'stop'"),
        ({"endpointSchedule": {"upExpression": "8am"}}, "cron()/rate()/at()"),
        ({"endpointSchedule": {"timeZone": "Central Europe"}}, "IANA"),
        ({"endpointSchedule": {"days": "MON"}}, "unknown keys"),
        ({"endpointSchedule": {"upExpression": "rate(1 day)", "downExpression": "rate(1 day)"}}, "differ"),
        (
            {
                "endpointEnabled": True,
                "endpointModelPackageArn": PACKAGE,
                "endpointSchedule": {"offHoursMaxInstances": 5},
            },
            "offHoursMaxInstances",
        ),
    ],
)
def test_invalid_config_is_rejected(values: dict[str, Any], message: str) -> None:
    from infra.config import ConfigError

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_of(values)
