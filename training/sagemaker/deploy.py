"""``llm-twin deploy`` / ``llm-twin undeploy``: the SageMaker LMI endpoint under manual control (boto3).

Deploy
  1. the model package: ``--model-package ARN`` (must be **Approved**), else the newest Approved version
     of the Model Package Group the training workflow registers into (``<prefix>-twin``); none → a
     :class:`DeployError` that says how to approve one;
  2. a SageMaker model ``<endpoint>-v<version>-<UTC stamp>-<4 hex>`` whose container is the package
     (``ModelPackageName``: image + uncompressed S3 model data come from the registry, exactly what the
     workflow registered) plus the serving environment :func:`lmi_environment` (the same one the CDK
     construct sets);
  3. an endpoint config of the same name (instance type/count, container health-check and model
     download timeouts);
  4. CreateEndpoint, or UpdateEndpoint when it exists (SageMaker swaps blue/green: the old instances
     answer until the new ones pass the health check). With ``wait`` the call blocks until InService and
     then deletes the previous endpoint config.

Undeploy deletes the endpoint and its endpoint config; models and model packages stay (provenance,
cheap; ``deploy --model-package`` of an older version is the rollback).

An endpoint created by CloudFormation (``endpointEnabled=true`` in the CDK config: it carries the
``aws:cloudformation:stack-name`` tag) is refused unless ``force``: changing it behind CloudFormation's
back makes the next stack update fail or revert it.

Settings come from ``LLM_TWIN_DEPLOY_*`` variables (:class:`DeploySettings`); the serving stack's
outputs give the role (``LmiExecutionRoleArn``) and the endpoint name.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from llm_twin.errors import LlmTwinError

Engine = Literal["async", "rolling-batch"]
ENGINES: tuple[str, ...] = ("async", "rolling-batch")
DTYPES: tuple[str, ...] = ("bf16", "fp16", "auto")
ASYNC_ENTRYPOINT = "djl_python.lmi_vllm.vllm_async_service"
CLOUDFORMATION_TAG = "aws:cloudformation:stack-name"
MANAGED_BY_TAG = "llm-twin:deployed-by"
BUSY = frozenset(
    {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed"}
)
MAX_NAME = 63
NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[^/]+/\d+$")
MAX_STARTUP_TIMEOUT_S = 3600  # SageMaker's limit for both container timeouts


class DeployError(LlmTwinError):
    """The deployment cannot proceed (no approved package, a busy or foreign endpoint, a failed update)."""


# --- serving configuration (shared with infra/constructs/lmi_endpoint.py) ---------------------------


@dataclass(frozen=True)
class ServingOptions:
    """What the DJL LMI container (vLLM) is told through ``OPTION_*`` variables.

    ``engine``: ``async`` is the vLLM async service, the default handler of LMI >= 0.35 (lmi17, the
    pinned image; recommended since 0.34); ``rolling-batch`` is the older ``OPTION_ROLLING_BATCH=vllm``
    handler. The container environment of the model overrides the
    package's variables of the same name; the training workflow registers packages with
    :func:`lmi_environment` of the same options (``infra/constructs/training_workflow.py``).
    """

    max_model_len: int = 4096  # prompt + completion tokens; bounds the KV cache per sequence
    tensor_parallel_degree: str = "max"  # "max" = every GPU of the instance, or a number
    dtype: str = "bf16"  # A10G/L4/A100/H100 support bf16, the training dtype
    max_batch_size: int = 32  # concurrent sequences (OPTION_MAX_ROLLING_BATCH_SIZE = vLLM max_num_seqs)
    engine: str = "async"
    gpu_memory_utilization: float = 0.9  # vLLM pre-allocates this share of GPU memory (weights + KV cache)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine: one of {ENGINES}, got {self.engine!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: one of {DTYPES}, got {self.dtype!r}")
        tp = self.tensor_parallel_degree
        if tp != "max" and not (tp.isdigit() and int(tp) in (1, 2, 4, 8)):
            raise ValueError(f"tensor_parallel_degree: 'max', 1, 2, 4 or 8, got {tp!r}")
        if not 256 <= self.max_model_len <= 131_072:
            raise ValueError(f"max_model_len: 256..131072, got {self.max_model_len}")
        if not 1 <= self.max_batch_size <= 1024:
            raise ValueError(f"max_batch_size: 1..1024, got {self.max_batch_size}")
        if not 0.1 <= self.gpu_memory_utilization <= 0.98:
            raise ValueError(f"gpu_memory_utilization: 0.1..0.98, got {self.gpu_memory_utilization}")


def lmi_environment(options: ServingOptions | None = None) -> dict[str, str]:
    """The model container's environment: the LMI serving configuration as ``OPTION_*`` variables."""
    o = options or ServingOptions()
    env = {
        "SERVING_FAIL_FAST": "true",  # a model that fails to load stops the container: no health
        "OPTION_MAX_MODEL_LEN": str(o.max_model_len),
        "OPTION_TENSOR_PARALLEL_DEGREE": o.tensor_parallel_degree,
        "OPTION_DTYPE": o.dtype,
        "OPTION_MAX_ROLLING_BATCH_SIZE": str(o.max_batch_size),
        "OPTION_GPU_MEMORY_UTILIZATION": f"{o.gpu_memory_utilization:g}",
    }
    if o.engine == "async":
        env.update(
            OPTION_ASYNC_MODE="true", OPTION_ROLLING_BATCH="disable", OPTION_ENTRYPOINT=ASYNC_ENTRYPOINT
        )
    else:
        env["OPTION_ROLLING_BATCH"] = "vllm"
    return dict(sorted(env.items()))


def has_instance_storage(instance_type: str) -> bool:
    """Nitro instances with local NVMe storage: the endpoint config must not name a volume KMS key.

    SageMaker rejects ``KmsKeyId`` (and ``VolumeSizeInGB``) for them; the NVMe store is encrypted by the
    hardware (AES-256, keys never leave the instance). Extend the list when adding families.
    """
    family = instance_type.split(".")[1] if instance_type.count(".") == 2 else ""
    return family in INSTANCE_STORAGE_FAMILIES


INSTANCE_STORAGE_FAMILIES = frozenset(
    {
        "g4dn",
        "g5",
        "g6",
        "g6e",
        "p3dn",
        "p4d",
        "p4de",
        "p5",
        "p5e",
        "p5en",
        "m5d",
        "c5d",
        "r5d",
        "trn1",
        "trn1n",
    }
)


# --- settings and results ---------------------------------------------------------------------------


class DeploySettings(BaseSettings):
    """Where and how ``llm-twin deploy`` deploys. Env: ``LLM_TWIN_DEPLOY_<FIELD>`` (some aliases)."""

    model_config = SettingsConfigDict(env_prefix="LLM_TWIN_DEPLOY_", extra="ignore", populate_by_name=True)

    region: str = Field(
        "us-east-1",
        validation_alias=AliasChoices(
            "LLM_TWIN_DEPLOY_REGION", "LLM_TWIN_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"
        ),
    )
    endpoint_name: str = Field(
        "llm-twin-dev-lmi",
        pattern=r"^[a-z0-9](-*[a-z0-9]){0,62}$",
        validation_alias=AliasChoices("LLM_TWIN_DEPLOY_ENDPOINT_NAME", "LLM_TWIN_LMI_ENDPOINT_NAME"),
        description="The endpoint the API invokes (CDK config lmiEndpointName, default <prefix>-lmi).",
    )
    model_package_group: str = Field(
        "llm-twin-dev-twin", pattern=NAME.pattern, description="Model Package Group (<prefix>-twin)."
    )
    role_arn: str | None = Field(None, description="Execution role: the serving stack's LmiExecutionRoleArn.")
    instance_type: str = Field("ml.g5.xlarge", pattern=INSTANCE_TYPE.pattern)
    instance_count: int = Field(1, ge=1, le=20)
    variant_name: str = Field("AllTraffic", pattern=NAME.pattern)
    health_check_timeout_s: int = Field(900, ge=60, le=MAX_STARTUP_TIMEOUT_S)
    model_download_timeout_s: int = Field(900, ge=60, le=MAX_STARTUP_TIMEOUT_S)
    max_model_len: int = Field(4096, ge=256, le=131_072)
    tensor_parallel_degree: str = Field("max", pattern=r"^(max|1|2|4|8)$")
    dtype: Literal["bf16", "fp16", "auto"] = "bf16"
    max_batch_size: int = Field(32, ge=1, le=1024)
    engine: Engine = "async"
    aws_endpoint_url: str | None = Field(
        None, validation_alias=AliasChoices("LLM_TWIN_DEPLOY_AWS_ENDPOINT_URL", "LLM_TWIN_AWS_ENDPOINT_URL")
    )

    @property
    def serving(self) -> ServingOptions:
        return ServingOptions(
            max_model_len=self.max_model_len,
            tensor_parallel_degree=self.tensor_parallel_degree,
            dtype=self.dtype,
            max_batch_size=self.max_batch_size,
            engine=self.engine,
        )


@dataclass(frozen=True)
class DeployResult:
    endpoint_name: str
    action: Literal["created", "updated"]
    status: str  # the endpoint's status when deploy returned (InService after a wait)
    model_package_arn: str
    model_name: str
    endpoint_config_name: str
    instance_type: str
    instance_count: int
    image: str
    model_data_url: str
    previous_endpoint_config: str | None = None
    deleted_endpoint_config: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UndeployResult:
    endpoint_name: str
    deleted: bool  # False: there was no such endpoint
    endpoint_config_name: str | None = None
    kept_model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the operations ----------------------------------------------------------------------------------


def sagemaker_client(settings: DeploySettings) -> Any:
    import boto3

    return boto3.session.Session(region_name=settings.region).client(
        "sagemaker", region_name=settings.region, endpoint_url=settings.aws_endpoint_url
    )


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _is_missing(exc: Exception) -> bool:
    """DescribeEndpoint on an unknown endpoint answers ValidationException 'Could not find endpoint'."""
    return _error_code(exc) in ("ValidationException", "ResourceNotFound") and "not find" in str(exc).lower()


def describe_endpoint(client: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return dict(client.describe_endpoint(EndpointName=name))
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise


def newest_approved_package(client: Any, group: str) -> str:
    """ARN of the newest Approved version in ``group``; :class:`DeployError` when there is none."""
    from botocore.exceptions import ClientError

    try:
        page = client.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except ClientError as exc:
        raise DeployError(f"cannot list model packages of group {group!r}: {exc}") from None
    summaries = page.get("ModelPackageSummaryList", [])
    if not summaries:
        raise DeployError(
            f"no Approved model package in group {group!r}: the training workflow registers runs as "
            "PendingManualApproval; approve one (aws sagemaker update-model-package --model-package-arn "
            "<arn> --model-approval-status Approved) or pass --model-package ARN"
        )
    return str(summaries[0]["ModelPackageArn"])


def approved_package(client: Any, arn: str) -> dict[str, Any]:
    """DescribeModelPackage of ``arn``; it must exist, be Approved and carry one container."""
    from botocore.exceptions import ClientError

    try:
        package = dict(client.describe_model_package(ModelPackageName=arn))
    except ClientError as exc:
        raise DeployError(f"model package {arn}: {exc}") from None
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        raise DeployError(
            f"model package {arn} is {status or 'not approved'}: only an Approved package is deployed "
            "(aws sagemaker update-model-package --model-approval-status Approved)"
        )
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    if len(containers) != 1:
        raise DeployError(f"model package {arn}: expected one inference container, found {len(containers)}")
    return package


def package_model_data(package: Mapping[str, Any]) -> tuple[str, str]:
    """(image, model data S3 URI) of the package's container."""
    container = package["InferenceSpecification"]["Containers"][0]
    source = container.get("ModelDataSource", {}).get("S3DataSource", {})
    return str(container.get("Image", "")), str(source.get("S3Uri") or container.get("ModelDataUrl", ""))


def resource_name(
    endpoint_name: str, version: str, now: datetime | None = None, salt: str | None = None
) -> str:
    """``<endpoint>-v<version>-<YYYYmmddHHMMSS>-<4 hex>``, cut to SageMaker's 63 characters (endpoint part
    first). The random part keeps two deploys within one second apart (model names must be new)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    suffix = f"-v{version}-{stamp}-{salt if salt is not None else secrets.token_hex(2)}"
    head = endpoint_name[: MAX_NAME - len(suffix)].rstrip("-")
    return head + suffix


def _cloudformation_stack(client: Any, endpoint: Mapping[str, Any]) -> str | None:
    tags = client.list_tags(ResourceArn=endpoint["EndpointArn"]).get("Tags", [])
    for tag in tags:
        if tag.get("Key") == CLOUDFORMATION_TAG:
            return str(tag.get("Value"))
    return None


def _refuse_foreign(client: Any, endpoint: Mapping[str, Any], force: bool, verb: str) -> None:
    stack = _cloudformation_stack(client, endpoint)
    if stack and not force:
        raise DeployError(
            f"endpoint {endpoint['EndpointName']} is managed by CloudFormation stack {stack} "
            f"(endpointEnabled=true): {verb} it with the CDK config (endpointModelPackageArn / "
            "endpointEnabled) and `cdk deploy`, or pass --force to change it behind the stack's back"
        )


def _tags(endpoint_name: str, package_arn: str) -> list[dict[str, str]]:
    return [
        {"Key": "project", "Value": "llm-twin"},
        {"Key": MANAGED_BY_TAG, "Value": "cli"},
        {"Key": "llm-twin:endpoint", "Value": endpoint_name},
        {"Key": "llm-twin:model-package", "Value": package_arn[:256]},
    ]


def _wait(client: Any, waiter_name: str, name: str, poll_seconds: int, timeout_s: int) -> None:
    from botocore.exceptions import WaiterError

    attempts = max(1, timeout_s // max(1, poll_seconds))
    try:
        client.get_waiter(waiter_name).wait(
            EndpointName=name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": attempts}
        )
    except WaiterError as exc:
        reason = (exc.last_response or {}).get("FailureReason") or str(exc)
        raise DeployError(f"endpoint {name}: {waiter_name.replace('_', ' ')} failed: {reason}") from None


def deploy(
    client: Any,
    settings: DeploySettings,
    *,
    model_package_arn: str | None = None,
    wait: bool = False,
    force: bool = False,
    poll_seconds: int = 30,
    timeout_s: int = 3600,
    now: datetime | None = None,
) -> DeployResult:
    """Create or update ``settings.endpoint_name`` from an Approved model package (see module doc)."""
    if not settings.role_arn:
        raise DeployError(
            "no execution role: set LLM_TWIN_DEPLOY_ROLE_ARN (the serving stack's LmiExecutionRoleArn "
            "output) or pass --role-arn"
        )
    if model_package_arn is not None and not PACKAGE_ARN.match(model_package_arn):
        raise DeployError(
            "--model-package: a versioned model package ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>), "
            f"got {model_package_arn!r}"
        )
    name = settings.endpoint_name
    existing = describe_endpoint(client, name)
    if existing is not None:
        _refuse_foreign(client, existing, force, "update")
        status = existing.get("EndpointStatus", "")
        if status in BUSY:
            raise DeployError(f"endpoint {name} is {status}: wait until it settles, then deploy again")
        if status == "Failed":
            raise DeployError(
                f"endpoint {name} is Failed ({existing.get('FailureReason', 'no reason given')}): "
                "run `llm-twin undeploy` first"
            )

    arn = model_package_arn or newest_approved_package(client, settings.model_package_group)
    package = approved_package(client, arn)
    image, model_data = package_model_data(package)
    version = str(package.get("ModelPackageVersion") or arn.rsplit("/", 1)[-1])
    resource = resource_name(name, version, now)
    environment = lmi_environment(settings.serving)
    tags = _tags(name, arn)

    client.create_model(
        ModelName=resource,
        ExecutionRoleArn=settings.role_arn,
        PrimaryContainer={"ModelPackageName": arn, "Environment": environment},
        Tags=tags,
    )
    variant: dict[str, Any] = {
        "VariantName": settings.variant_name,
        "ModelName": resource,
        "InstanceType": settings.instance_type,
        "InitialInstanceCount": settings.instance_count,
        "InitialVariantWeight": 1.0,
        "ContainerStartupHealthCheckTimeoutInSeconds": settings.health_check_timeout_s,
        "ModelDataDownloadTimeoutInSeconds": settings.model_download_timeout_s,
    }
    client.create_endpoint_config(EndpointConfigName=resource, ProductionVariants=[variant], Tags=tags)

    previous = existing.get("EndpointConfigName") if existing else None
    if existing is None:
        client.create_endpoint(EndpointName=name, EndpointConfigName=resource, Tags=tags)
        action: Literal["created", "updated"] = "created"
    else:
        client.update_endpoint(EndpointName=name, EndpointConfigName=resource)
        action = "updated"

    deleted = None
    if wait:
        _wait(client, "endpoint_in_service", name, poll_seconds, timeout_s)
        if previous and previous != resource:
            client.delete_endpoint_config(EndpointConfigName=previous)
            deleted = previous
    current = describe_endpoint(client, name) or {}
    return DeployResult(
        endpoint_name=name,
        action=action,
        status=str(current.get("EndpointStatus", "Unknown")),
        model_package_arn=arn,
        model_name=resource,
        endpoint_config_name=resource,
        instance_type=settings.instance_type,
        instance_count=settings.instance_count,
        image=image,
        model_data_url=model_data,
        previous_endpoint_config=previous,
        deleted_endpoint_config=deleted,
        environment=environment,
    )


def undeploy(
    client: Any,
    settings: DeploySettings,
    *,
    wait: bool = False,
    force: bool = False,
    poll_seconds: int = 30,
    timeout_s: int = 1800,
) -> UndeployResult:
    """Delete the endpoint and its endpoint config; the model and the model packages stay."""
    name = settings.endpoint_name
    existing = describe_endpoint(client, name)
    if existing is None:
        return UndeployResult(endpoint_name=name, deleted=False)
    _refuse_foreign(client, existing, force, "remove")
    if existing.get("EndpointStatus") in ("Creating", "Updating", "Deleting"):
        raise DeployError(f"endpoint {name} is {existing['EndpointStatus']}: wait until it settles")
    config_name = existing.get("EndpointConfigName")
    model = None
    if config_name:
        config = client.describe_endpoint_config(EndpointConfigName=config_name)
        variants = config.get("ProductionVariants", [])
        model = variants[0].get("ModelName") if variants else None
    client.delete_endpoint(EndpointName=name)
    if wait:
        _wait(client, "endpoint_deleted", name, poll_seconds, timeout_s)
    if config_name:
        client.delete_endpoint_config(EndpointConfigName=config_name)
    return UndeployResult(
        endpoint_name=name, deleted=True, endpoint_config_name=config_name, kept_model=model
    )
