"""``llm-twin deploy`` / ``undeploy`` (training/sagemaker/deploy.py) against moto's SageMaker control plane.

moto 5.2.5 gaps, bridged here and nowhere else: ``UpdateEndpoint`` is not implemented (a botocore
``before-call`` hook applies the new endpoint config to moto's endpoint, which is what SageMaker does
once the blue/green update finishes), and its endpoint-config instance-type table predates g5/g6 (its
validator is relaxed to any ``ml.*`` type).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from training.sagemaker.deploy import (
    ASYNC_ENTRYPOINT,
    CLOUDFORMATION_TAG,
    NAME,
    DeployError,
    DeploySettings,
    ServingOptions,
    deploy,
    has_instance_storage,
    lmi_environment,
    resource_name,
    undeploy,
)

moto = pytest.importorskip("moto")

REGION = "us-east-1"
ACCOUNT = "123456789012"
GROUP = "llm-twin-dev-twin"
ENDPOINT = "llm-twin-dev-lmi"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/llm-twin-dev-lmi-execution"
IMAGE = f"763104351884.dkr.ecr.{REGION}.amazonaws.com/djl-inference:0.35.0-lmi17.0.0-cu128"
BUCKET = f"llm-twin-dev-artifacts-{ACCOUNT}-{REGION}"


def merged(job: str) -> str:
    return f"s3://{BUCKET}/models/{job}/output/model/merged/"


def inference_specification(job: str) -> dict[str, Any]:
    """What the training workflow's RegisterModel state registers."""
    return {
        "Containers": [
            {
                "Image": IMAGE,
                "ModelDataSource": {
                    "S3DataSource": {
                        "S3Uri": merged(job),
                        "S3DataType": "S3Prefix",
                        "CompressionType": "None",
                    }
                },
                "Environment": lmi_environment(ServingOptions()),  # the construct substitutes it
            }
        ],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
    }


def _fake_update_endpoint(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
    """moto has no UpdateEndpoint: point its endpoint at the new config (the end state of an update)."""
    from moto.sagemaker.models import sagemaker_backends

    request = json.loads(params["body"])  # before-call sees the serialized request
    backend = sagemaker_backends[ACCOUNT][REGION]
    endpoint = backend.endpoints[request["EndpointName"]]
    config = backend.endpoint_configs[request["EndpointConfigName"]]
    endpoint.endpoint_config_name = config.endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.endpoint_status = "InService"
    return SimpleNamespace(status_code=200, headers={}), {"EndpointArn": endpoint.arn}


@pytest.fixture
def sm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto.sagemaker.models import FakeEndpointConfig

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("LLM_TWIN_LMI_ENDPOINT_NAME", "LLM_TWIN_AWS_ENDPOINT_URL", "LLM_TWIN_REGION", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(FakeEndpointConfig, "validate_instance_type", lambda self, instance_type: None)
    with moto.mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        client.meta.events.register("before-call.sagemaker.UpdateEndpoint", _fake_update_endpoint)
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        yield client


def register(client: Any, job: str, status: str = "PendingManualApproval") -> str:
    return str(
        client.create_model_package(
            ModelPackageGroupName=GROUP,
            ModelPackageDescription=f"llm-twin run {job}",
            InferenceSpecification=inference_specification(job),
            ModelApprovalStatus=status,
        )["ModelPackageArn"]
    )


def settings(**overrides: Any) -> DeploySettings:
    values: dict[str, Any] = {
        "endpoint_name": ENDPOINT,
        "model_package_group": GROUP,
        "role_arn": ROLE,
        "region": REGION,
    }
    return DeploySettings(**{**values, **overrides})


def endpoint_state(client: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    endpoint = client.describe_endpoint(EndpointName=ENDPOINT)
    config = client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = client.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return endpoint, config, model


# --- deploy -----------------------------------------------------------------------------------------


def test_deploy_creates_the_endpoint_from_the_newest_approved_package(sm: Any) -> None:
    register(sm, "dpo-run-1", "Approved")
    newest_approved = register(sm, "dpo-run-2", "Approved")
    register(sm, "dpo-run-3")  # newer, but still pending: never deployed
    register(sm, "dpo-run-4", "Rejected")

    result = deploy(sm, settings(), wait=True, poll_seconds=1)

    assert result.action == "created"
    assert result.status == "InService"
    assert result.model_package_arn == newest_approved
    assert (result.image, result.model_data_url) == (IMAGE, merged("dpo-run-2"))
    endpoint, config, model = endpoint_state(sm)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == result.endpoint_config_name
    (variant,) = config["ProductionVariants"]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": result.model_name,
        "InstanceType": "ml.g5.xlarge",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": 1.0,
        "ContainerStartupHealthCheckTimeoutInSeconds": 900,
        "ModelDataDownloadTimeoutInSeconds": 900,
    }
    assert "KmsKeyId" not in config  # g5: NVMe instance storage, SageMaker rejects a volume key
    assert model["ExecutionRoleArn"] == ROLE
    assert model["PrimaryContainer"] == {
        "ModelPackageName": newest_approved,
        "Environment": lmi_environment(ServingOptions()),
    }
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"]}
    assert tags["llm-twin:deployed-by"] == "cli"
    assert tags["llm-twin:model-package"] == newest_approved


def test_deploy_a_given_approved_package_with_other_instances(sm: Any) -> None:
    older = register(sm, "dpo-old", "Approved")
    register(sm, "dpo-new", "Approved")

    result = deploy(sm, settings(instance_type="ml.g6.2xlarge", instance_count=2), model_package_arn=older)

    assert result.model_package_arn == older
    assert result.model_data_url == merged("dpo-old")
    _endpoint, config, model = endpoint_state(sm)
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.g6.2xlarge"
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert model["PrimaryContainer"]["ModelPackageName"] == older


def test_deploy_again_updates_the_endpoint_with_a_new_config_and_drops_the_old_one(sm: Any) -> None:
    first_package = register(sm, "dpo-1", "Approved")
    first = deploy(sm, settings(), wait=True, poll_seconds=1, now=datetime(2026, 1, 1, tzinfo=UTC))
    second_package = register(sm, "dpo-2", "Approved")

    second = deploy(sm, settings(), wait=True, poll_seconds=1, now=datetime(2026, 1, 2, tzinfo=UTC))

    assert (first.action, second.action) == ("created", "updated")
    assert second.model_package_arn == second_package != first_package
    assert second.endpoint_config_name != first.endpoint_config_name
    assert second.previous_endpoint_config == first.endpoint_config_name
    assert second.deleted_endpoint_config == first.endpoint_config_name
    endpoint, _config, model = endpoint_state(sm)
    assert endpoint["EndpointConfigName"] == second.endpoint_config_name
    assert model["PrimaryContainer"]["ModelPackageName"] == second_package
    configs = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    assert configs == {second.endpoint_config_name}
    models = {m["ModelName"] for m in sm.list_models()["Models"]}
    assert models == {first.model_name, second.model_name}  # models are kept: rollback material


def test_update_without_wait_keeps_the_previous_config(sm: Any) -> None:
    register(sm, "dpo-1", "Approved")
    first = deploy(sm, settings(), now=datetime(2026, 1, 1, tzinfo=UTC))
    second = deploy(sm, settings(), now=datetime(2026, 1, 2, tzinfo=UTC))

    assert second.action == "updated"
    assert second.deleted_endpoint_config is None
    configs = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    assert configs == {first.endpoint_config_name, second.endpoint_config_name}


def test_no_approved_package_is_a_clear_error(sm: Any) -> None:
    register(sm, "dpo-pending")
    register(sm, "dpo-rejected", "Rejected")

    with pytest.raises(DeployError, match=rf"no Approved model package in group '{GROUP}'") as raised:
        deploy(sm, settings())
    assert "update-model-package" in str(raised.value)
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_models()["Models"] == []


def test_an_unapproved_given_package_is_refused(sm: Any) -> None:
    pending = register(sm, "dpo-pending")
    with pytest.raises(DeployError, match="PendingManualApproval"):
        deploy(sm, settings(), model_package_arn=pending)
    with pytest.raises(DeployError, match="versioned model package ARN"):
        deploy(sm, settings(), model_package_arn="llm-twin-dev-twin")
    assert sm.list_models()["Models"] == []


def test_deploy_needs_the_execution_role(sm: Any) -> None:
    register(sm, "dpo-1", "Approved")
    with pytest.raises(DeployError, match="LmiExecutionRoleArn"):
        deploy(sm, settings(role_arn=None))


def test_an_endpoint_cloudformation_manages_is_left_alone_unless_forced(sm: Any) -> None:
    package = register(sm, "dpo-1", "Approved")
    sm.create_model(
        ModelName="cfn-model", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package}
    )
    sm.create_endpoint_config(
        EndpointConfigName="cfn-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "cfn-model",
                "InstanceType": "ml.g5.xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(
        EndpointName=ENDPOINT,
        EndpointConfigName="cfn-config",
        Tags=[{"Key": CLOUDFORMATION_TAG, "Value": "llm-twin-dev-serving"}],
    )

    with pytest.raises(DeployError, match="managed by CloudFormation stack llm-twin-dev-serving"):
        deploy(sm, settings())
    with pytest.raises(DeployError, match="managed by CloudFormation"):
        undeploy(sm, settings())
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == "cfn-config"

    assert deploy(sm, settings(), force=True).action == "updated"


def test_a_failed_endpoint_must_be_undeployed_first(sm: Any) -> None:
    from moto.sagemaker.models import sagemaker_backends

    register(sm, "dpo-1", "Approved")
    deploy(sm, settings())
    sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT].endpoint_status = "Failed"
    with pytest.raises(DeployError, match=r"Failed .*llm-twin undeploy"):
        deploy(sm, settings())


# --- undeploy ---------------------------------------------------------------------------------------


def test_undeploy_deletes_endpoint_and_config_but_keeps_models_and_packages(sm: Any) -> None:
    package = register(sm, "dpo-1", "Approved")
    deployed = deploy(sm, settings(), wait=True, poll_seconds=1)

    result = undeploy(sm, settings(), wait=True, poll_seconds=1)

    assert result.deleted
    assert result.endpoint_config_name == deployed.endpoint_config_name
    assert result.kept_model == deployed.model_name
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == [deployed.model_name]
    assert sm.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == "Approved"


def test_undeploy_without_an_endpoint_is_a_no_op(sm: Any) -> None:
    result = undeploy(sm, settings())
    assert not result.deleted
    assert result.endpoint_config_name is None


# --- pure helpers -----------------------------------------------------------------------------------


def test_lmi_environment_per_engine() -> None:
    env = lmi_environment(ServingOptions(max_model_len=8192, tensor_parallel_degree="1", max_batch_size=8))
    assert env["OPTION_ASYNC_MODE"] == "true"
    assert env["OPTION_ROLLING_BATCH"] == "disable"
    assert env["OPTION_ENTRYPOINT"] == ASYNC_ENTRYPOINT
    assert env["OPTION_MAX_MODEL_LEN"] == "8192"
    assert env["OPTION_TENSOR_PARALLEL_DEGREE"] == "1"
    assert env["OPTION_MAX_ROLLING_BATCH_SIZE"] == "8"
    assert env["OPTION_DTYPE"] == "bf16"
    assert env["SERVING_FAIL_FAST"] == "true"

    legacy = lmi_environment(ServingOptions(engine="rolling-batch", dtype="fp16"))
    assert legacy["OPTION_ROLLING_BATCH"] == "vllm"
    assert "OPTION_ASYNC_MODE" not in legacy and "OPTION_ENTRYPOINT" not in legacy
    assert legacy["OPTION_DTYPE"] == "fp16"


@pytest.mark.parametrize(
    "values",
    [
        {"engine": "tgi"},
        {"dtype": "int8"},
        {"tensor_parallel_degree": "3"},
        {"max_model_len": 10},
        {"max_batch_size": 0},
        {"gpu_memory_utilization": 1.0},
    ],
)
def test_serving_options_are_validated(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ServingOptions(**values)


def test_resource_names_fit_sagemaker_limits() -> None:
    now = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
    assert resource_name(ENDPOINT, "12", now, "beef") == "llm-twin-dev-lmi-v12-20260504030201-beef"
    long = resource_name("a" * 60 + "-lmi", "123", now)
    assert len(long) == 63 and NAME.match(long) and long[:-5].endswith("-v123-20260504030201")
    assert NAME.match(resource_name("x" * 39 + "-" + "y" * 18, "1", now))  # no dangling '-' after the cut
    assert resource_name(ENDPOINT, "1", now) != resource_name(ENDPOINT, "1", now)


def test_instance_storage_types() -> None:
    assert has_instance_storage("ml.g5.xlarge") and has_instance_storage("ml.g6e.2xlarge")
    assert has_instance_storage("ml.p4d.24xlarge") and has_instance_storage("ml.g4dn.xlarge")
    assert not has_instance_storage("ml.p3.2xlarge") and not has_instance_storage("ml.m5.xlarge")
    assert not has_instance_storage("ml.inf2.xlarge") and not has_instance_storage("bogus")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_TWIN_LMI_ENDPOINT_NAME", "llm-twin-prod-lmi")
    monkeypatch.setenv("LLM_TWIN_DEPLOY_ROLE_ARN", ROLE)
    monkeypatch.setenv("LLM_TWIN_DEPLOY_INSTANCE_TYPE", "ml.g5.2xlarge")
    monkeypatch.setenv("LLM_TWIN_DEPLOY_ENGINE", "rolling-batch")
    loaded = DeploySettings()
    assert (loaded.endpoint_name, loaded.role_arn, loaded.instance_type) == (
        "llm-twin-prod-lmi",
        ROLE,
        "ml.g5.2xlarge",
    )
    assert loaded.serving.engine == "rolling-batch"
    with pytest.raises(ValueError):
        DeploySettings(endpoint_name="Mixed_Case")


# --- the CLI commands -------------------------------------------------------------------------------


def cli(argv: list[str]) -> int:
    """Parse like ``llm-twin`` does (main.py's ``add``) and run the command."""
    from llm_twin.cli import endpoint
    from llm_twin.settings import Settings

    parser = argparse.ArgumentParser(prog="llm-twin")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, command: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(run=command)
        return p

    endpoint.register(add)
    args = parser.parse_args(argv)
    return int(args.run(args, Settings()))


def test_cli_deploy_and_undeploy(
    sm: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    monkeypatch.setenv("LLM_TWIN_DEPLOY_ROLE_ARN", ROLE)
    monkeypatch.setenv("LLM_TWIN_LMI_ENDPOINT_NAME", ENDPOINT)
    # The commands build their own client: route it through the same patched event hooks.
    real_client = boto3.session.Session.client

    def client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made = real_client(self, service, *args, **kwargs)
        if service == "sagemaker":
            made.meta.events.register("before-call.sagemaker.UpdateEndpoint", _fake_update_endpoint)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    package = register(sm, "dpo-1", "Approved")

    assert cli(["deploy", "--group", GROUP, "--instance-type", "ml.g5.2xlarge", "--json"]) == 0
    deployed = json.loads(capsys.readouterr().out)
    assert deployed["action"] == "created" and deployed["model_package_arn"] == package
    assert deployed["instance_type"] == "ml.g5.2xlarge"

    assert cli(["deploy", "--group", GROUP, "--wait"]) == 0
    out = capsys.readouterr().out
    assert f"updated endpoint {ENDPOINT} (InService)" in out
    assert "removed        previous endpoint config" in out

    assert cli(["undeploy"]) == 0
    assert f"deleted endpoint {ENDPOINT}" in capsys.readouterr().out
    assert cli(["undeploy"]) == 0
    assert "nothing to undeploy" in capsys.readouterr().out


def test_cli_reports_bad_settings(sm: Any) -> None:
    from llm_twin.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="instance_type"):
        cli(["deploy", "--instance-type", "g5.xlarge", "--role-arn", ROLE])
    with pytest.raises(DeployError, match="no Approved model package"):
        cli(["deploy", "--group", GROUP, "--role-arn", ROLE])
