"""The training capability: datasets -> SFT -> DPO -> evaluate -> gate -> model registry, on SageMaker.

A STANDARD state machine runs ``layers/llm_twin/workflows/training.asl.json`` unchanged
(``DefinitionString`` + ``DefinitionSubstitutions``, like the collection workflow). Every SageMaker step
is a ``.sync`` (RUN_JOB) integration; job names are ``<prefix>-<step>-<execution name>``.

What the placeholders get (:meth:`TrainingWorkflow.substitutions`): ARNs and names (role, bucket, topic,
table, model package group), the code asset's S3 URI, the pinned images (``training.sagemaker.images``;
the registry account per region comes from a CfnMapping when the stack is region-agnostic) and the
configured compute. Objects and numbers (hyperparameters, resources, stopping conditions, spot) are
substituted as JSON text inside ``States.StringToJson('...')`` so the ASL file itself stays valid JSON:
:func:`intrinsic_json` escapes them for the intrinsic string literal and for the JSON string around it.

The jobs' code is one CDK asset: ``training/`` + ``llm_twin/`` + requirements.txt as a reproducible
``.tgz`` (:func:`training.sagemaker.source.write_source_tarball`, bundled locally, no Docker); each job
unpacks it with :data:`training.sagemaker.source.CONTAINER_SCRIPT` and runs the bootstrap.

The model package's container environment is the endpoint's serving configuration
(:func:`training.sagemaker.deploy.lmi_environment` of ``config.endpoint.serving``, the ``endpoint*``
context keys), substituted as ``ModelPackageEnvironment``: the registered package and the endpoint
(``infra/constructs/lmi_endpoint.py``, ``llm-twin deploy``) serve with the same engine settings.

Roles (least privilege, see docs/training.md): the SageMaker execution role (its bucket prefixes, the code
object, ECR pulls of the two DLC repositories, the SageMaker job log groups, Bedrock InvokeModel on the
configured models, read of the warehouse, the HF token secret when configured, and reading the model
registry for the evaluation's current model: ListModelPackages, DescribeModelPackage on the group's
versions) and the state machine role
(create/describe/stop/tag of its own job name prefixes, CreateModelPackage in its group, PassRole of the
execution role to SageMaker only, the EventBridge rules of the .sync integration, the LATEST/evaluation
objects it reads, publishing to the notification topic).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    Aws,
    BundlingOptions,
    BundlingOutput,
    DockerImage,
    Duration,
    Fn,
    ILocalBundling,
    TimeZone,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.config import ConfigError, InfraConfig
from infra.constructs.common import log_retention, removal_policy, scheduler_dead_letter_queue, scheduler_role
from infra.constructs.dlc_images import DlcImages
from infra.constructs.training_buckets import (
    CHECKPOINTS_PREFIX,
    CODE_PREFIX,
    DATASETS_PREFIX,
    EVALUATIONS_PREFIX,
    MODELS_PREFIX,
    TrainingArtifacts,
    bucket_arn,
)
from infra.constructs.warehouse import Warehouse
from infra.training_config import JobResources, TrainingConfig
from llm_twin.workflows.catalog import TRAINING, WorkflowSpec
from training.sagemaker import images
from training.sagemaker.bootstrap import NO_SECRET
from training.sagemaker.deploy import ServingOptions, lmi_environment
from training.sagemaker.source import CONTAINER_SCRIPT, TARBALL_NAME, package_dirs, write_source_tarball

SERVICE = "training"
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")  # CloudFormation DefinitionSubstitutions syntax
# Job names: <prefix>-<step>-<execution name>, at most 63 characters; executions started without a name
# get a 36-character UUID.
STEPS = {"datasets": "data", "sft": "sft", "dpo": "dpo", "evaluate": "eval"}
EXECUTION_NAME_BUDGET = 36
MAX_JOB_NAME = 63
TRAINING_STEPS = ("sft", "dpo")
PROCESSING_STEPS = ("datasets", "evaluate")
SYNC_RULES = (
    "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
)
JOB_LOG_GROUPS = ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/ProcessingJobs")
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
ASL_TIMEOUT_SECONDS = 604_800  # the definition's TimeoutSeconds (7 days)
TIMEOUT_MARGIN_SECONDS = 3600  # S3 reads, registration, notifications, SageMaker provisioning
_GEO_PREFIX = re.compile(r"^(us|eu|apac|jp|au|ca|us-gov|global)\.")
NAG_PARTITION, NAG_REGION, NAG_ACCOUNT = "<AWS::Partition>", "<AWS::Region>", "<AWS::AccountId>"


# --- the definition and its substitutions ------------------------------------------------------------


def asl_placeholders(definition: str) -> set[str]:
    return set(_PLACEHOLDER.findall(definition))


def json_string_content(text: str) -> str:
    """``text`` escaped to sit between the quotes of a JSON string (textual substitution)."""
    return json.dumps(text)[1:-1]


def intrinsic_json(value: Any) -> str:
    """``value`` as JSON text for ``States.StringToJson('<here>')`` inside a JSON string of the ASL file.

    Two escapings, inner first: the intrinsic string literal reserves ``' { } \\`` (each takes a
    backslash), then the JSON string around the intrinsic escapes quotes and backslashes.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    for char in ("\\", "'", "{", "}"):  # the backslash first, or the others' escapes get doubled
        text = text.replace(char, "\\" + char)
    return json_string_content(text)


def render_hyperparameters(kind: str, training: TrainingConfig) -> dict[str, str]:
    """The job's HyperParameters: the configured values validated by ``training.finetune.config`` (a typo
    fails the synth, not a GPU job hours later) and rendered by ``to_hyperparameters()``. Locations are
    placeholders the entry point replaces with ``SM_*`` paths; DPO's base model is the ``model`` channel."""
    from training.finetune.config import parse_config

    raw = training.sft_hyperparameters if kind == "sft" else training.dpo_hyperparameters
    data: dict[str, Any] = dict(raw)
    data["base_model"] = training.base_model_id if kind == "sft" else "/opt/ml/input/data/model"
    data["dataset_dir"] = "/opt/ml/input/data/train"
    data["output_dir"] = "/opt/ml/output/data"
    try:
        config = parse_config(kind, data)
    except ValueError as exc:
        raise ConfigError(f"{kind}Hyperparameters: {exc}") from None
    return config.to_hyperparameters()


def stopping_condition(resources: JobResources, max_wait_minutes: int | None = None) -> dict[str, int]:
    condition = {"MaxRuntimeInSeconds": resources.max_runtime_seconds}
    if max_wait_minutes is not None:
        condition["MaxWaitTimeInSeconds"] = max_wait_minutes * 60
    return condition


def cluster_config(resources: JobResources) -> dict[str, Any]:
    return {
        "ClusterConfig": {
            "InstanceCount": 1,
            "InstanceType": resources.instance_type,
            "VolumeSizeInGB": resources.volume_gb,
        }
    }


def run_time_budget_seconds(training: TrainingConfig) -> int:
    """The longest a run's jobs may take together (spot waits included)."""
    wait = training.effective_max_wait_minutes
    train = (wait if wait is not None else training.training.max_runtime_minutes) * 60
    return training.processing.max_runtime_seconds + 2 * train + training.evaluation.max_runtime_seconds


def check_job_names(prefix: str) -> None:
    longest = max(len(step) for step in STEPS.values())
    if len(prefix) + longest + 2 + EXECUTION_NAME_BUDGET > MAX_JOB_NAME:
        raise ConfigError(
            f"envName: job names '{prefix}-<step>-<execution name>' would exceed {MAX_JOB_NAME} characters "
            f"with 36-character execution names; use an envName of at most "
            f"{MAX_JOB_NAME - EXECUTION_NAME_BUDGET - longest - 2 - len('llm-twin-')} characters"
        )


def bedrock_model_arns(model_id: str) -> list[str]:
    """InvokeModel resources: a foundation model, or a cross-region inference profile and the foundation
    model in the regions it routes to (their ARNs have no account)."""
    match = _GEO_PREFIX.match(model_id)
    if not match:
        return [f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}::foundation-model/{model_id}"]
    return [
        f"arn:{Aws.PARTITION}:bedrock:{Aws.REGION}:{Aws.ACCOUNT_ID}:inference-profile/{model_id}",
        f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/{model_id[match.end() :]}",
    ]


def model_package_arns(group: str) -> str:
    """Every version of ``group``: versioned packages are ``model-package/<group>/<version>``."""
    return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package/{group}/*"


@jsii.implements(ILocalBundling)
class SourceBundler:
    """CDK local bundling: the jobs' source tarball (no Docker)."""

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        # Raise (never return False): False would make CDK fall back to Docker, absent here.
        write_source_tarball(Path(output_dir) / TARBALL_NAME)
        return True


# --- the constructs ----------------------------------------------------------------------------------


class TrainingSchedule(Construct):
    """EventBridge Scheduler -> StartExecution ``{}``; its own role, a DLQ, DISABLED unless configured.

    Exposes ``schedule``, ``role`` and ``dead_letter_queue``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        training: TrainingConfig,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        cfg = training.schedule
        self.dead_letter_queue = scheduler_dead_letter_queue(
            self, "DeadLetterQueue", what="the EventBridge Scheduler schedule"
        )
        self.role = scheduler_role(
            self,
            "Role",
            description=f"{config.prefix} training schedule: start the training workflow, dead-letter",
        )
        target = targets.StepFunctionsStartExecution(
            state_machine,
            input=scheduler.ScheduleTargetInput.from_object({}),
            role=self.role,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=cfg.retry_attempts,
            max_event_age=Duration.minutes(cfg.max_event_age_minutes),
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=scheduler.ScheduleExpression.expression(cfg.expression, TimeZone.of(cfg.time_zone)),
            target=target,
            enabled=cfg.enabled,
            description=f"{config.prefix}: periodic training run (datasets, SFT, DPO, evaluation)",
        )


class TrainingWorkflow(Construct):
    """Exposes ``role`` (SageMaker execution role), ``state_machine``, ``log_group``, ``code`` (the source
    asset), ``definition`` (ASL text), ``substitutions`` (placeholder -> value), ``hyperparameters``
    (``{"sft": ..., "dpo": ...}``), ``schedule`` (:class:`TrainingSchedule`), ``training`` (the
    :class:`TrainingConfig` used), ``training_image_uri``/``processing_image_uri``/``inference_image_uri``,
    ``serving`` (the endpoint's :class:`ServingOptions`), ``model_package_environment`` (its
    :func:`lmi_environment`, what RegisterModel puts in the package's container) and ``spec``.

    ``topic`` receives failure, rejection and approval-needed notifications; pass ``topic_key`` when the
    topic is encrypted with a customer-managed key (the project's Monitoring topic is).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        artifacts: TrainingArtifacts,
        warehouse: Warehouse,
        log_key: kms.IKey,
        topic: sns.ITopic,
        topic_key: kms.IKey | None = None,
        training: TrainingConfig | None = None,
        serving: ServingOptions | None = None,
        spec: WorkflowSpec = TRAINING,
    ) -> None:
        super().__init__(scope, construct_id)
        cfg = training if training is not None else config.training  # type: ignore[attr-defined]
        # The endpoint's serving options (endpoint* context keys): the package registers what it serves.
        self.serving = serving if serving is not None else config.endpoint.serving  # type: ignore[attr-defined]
        self.model_package_environment = lmi_environment(self.serving)
        check_job_names(config.prefix)
        if run_time_budget_seconds(cfg) + TIMEOUT_MARGIN_SECONDS > ASL_TIMEOUT_SECONDS:
            raise ConfigError(
                f"the jobs' maximum run times (spot waits included) exceed the workflow's "
                f"{ASL_TIMEOUT_SECONDS // 3600} h timeout; lower trainingMaxRuntimeMinutes or "
                "trainingMaxWaitMinutes"
            )
        self.spec = spec
        self.training = cfg
        self._config = config
        self.definition = spec.asl_path.read_text(encoding="utf-8")
        self.hyperparameters = {kind: render_hyperparameters(kind, cfg) for kind in TRAINING_STEPS}
        self._images = DlcImages(self)
        self.training_image_uri = cfg.training_image_uri or self._images.uri(
            images.TRAINING_REPOSITORY, images.TRAINING_TAG
        )
        self.processing_image_uri = cfg.processing_image_uri or self._images.uri(
            images.PROCESSING_REPOSITORY, images.PROCESSING_TAG
        )
        self.inference_image_uri = cfg.inference_image_uri or self._images.uri(
            images.INFERENCE_REPOSITORY, images.INFERENCE_TAG
        )

        self.code = s3_assets.Asset(
            self,
            "Code",
            path=str(package_dirs()["training"]),  # the bundler adds llm_twin and requirements.txt
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(
                image=DockerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim"),
                local=SourceBundler(),
                output_type=BundlingOutput.SINGLE_FILE,
            ),
        )
        self.role = self._execution_role(config, cfg, artifacts, warehouse)

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=Fn.join(
                "",
                [
                    f"/aws/vendedlogs/states/{config.prefix}-training-",
                    Fn.select(2, Fn.split("/", Aws.STACK_ID)),
                ],
            ),
            encryption_key=log_key,
            retention=log_retention(config),
            removal_policy=removal_policy(config),
        )
        self.substitutions = self._substitutions(config, cfg, artifacts, warehouse, topic)
        unmatched = asl_placeholders(self.definition) ^ set(self.substitutions)
        if unmatched:
            raise ValueError(f"{spec.asl_file}: placeholders and substitutions differ: {sorted(unmatched)}")
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=config.training_state_machine_name,  # the API starts it by name
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(self.definition),
            definition_substitutions=self.substitutions,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self._state_machine_policy(config, cfg, artifacts, topic, topic_key)
        self.schedule = TrainingSchedule(
            self, "Schedule", config=config, training=cfg, state_machine=self.state_machine
        )

    # --- images ---------------------------------------------------------------------------------------

    def _repository_arns(self) -> list[str]:
        """The ECR repositories the jobs pull from (training + processing images)."""
        return [
            self._images.repository_arn(self._config_uri("training"), images.TRAINING_REPOSITORY),
            self._images.repository_arn(self._config_uri("processing"), images.PROCESSING_REPOSITORY),
        ]

    def _config_uri(self, which: str) -> str:
        return str(getattr(self.training, f"{which}_image_uri"))

    # --- IAM ------------------------------------------------------------------------------------------

    def _execution_role(
        self, config: InfraConfig, cfg: TrainingConfig, artifacts: TrainingArtifacts, warehouse: Warehouse
    ) -> iam.Role:
        role = iam.Role(
            self,
            "SageMakerRole",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"{config.prefix} training jobs: artifacts prefixes, DLC pulls, job logs, Bedrock",
        )
        read_write = (DATASETS_PREFIX, MODELS_PREFIX, CHECKPOINTS_PREFIX, EVALUATIONS_PREFIX)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ArtifactsReadWrite",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=artifacts.object_arns(*read_write),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LaunchedCodeRead", actions=["s3:GetObject"], resources=artifacts.object_arns(CODE_PREFIX)
            )
        )
        artifacts.grant_list(role, *read_write, CODE_PREFIX)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WorkflowCodeRead",
                actions=["s3:GetObject"],
                resources=[f"{bucket_arn(self.code.s3_bucket_name)}/{self.code.s3_object_key}"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullImages", actions=list(ECR_PULL_ACTIONS), resources=self._repository_arns()
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="EcrToken", actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="JobLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{group}:*"
                    for group in JOB_LOG_GROUPS
                ],
            )
        )
        model_ids = dict.fromkeys([cfg.dataset_model_id, cfg.effective_judge_model_id])
        role.add_to_policy(
            iam.PolicyStatement(
                sid="BedrockModels",
                actions=["bedrock:InvokeModel"],
                resources=[arn for model_id in model_ids for arn in bedrock_model_arns(model_id)],
            )
        )
        # The Evaluate step compares the candidate with the currently approved model: the newest Approved
        # version of the group (ListModelPackages filtered by group and status, then DescribeModelPackage).
        # Its model data lies under models/ of the artifacts bucket (RegisterModel registers the DPO job's
        # merged/ prefix), which ArtifactsReadWrite and the ListBucket grant above already cover.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListModelPackages", actions=["sagemaker:ListModelPackages"], resources=["*"]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeModelPackages",
                actions=["sagemaker:DescribeModelPackage"],
                resources=[model_package_arns(artifacts.model_package_group_name)],
            )
        )
        warehouse.grant_read_data(role)
        if cfg.hf_token_secret_name:
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="HuggingFaceToken",
                    actions=["secretsmanager:GetSecretValue"],
                    # Secrets Manager appends six random characters to a secret's name in its ARN.
                    resources=[
                        f"arn:{Aws.PARTITION}:secretsmanager:{Aws.REGION}:{Aws.ACCOUNT_ID}:secret:"
                        f"{cfg.hf_token_secret_name}-??????"
                    ],
                )
            )
        bucket = f"arn:{NAG_PARTITION}:s3:::{config.prefix}-artifacts-{NAG_ACCOUNT}-{NAG_REGION}"
        job = f"arn:{NAG_PARTITION}:sagemaker:{NAG_REGION}:{NAG_ACCOUNT}"
        acknowledgements = {
            "Resource::*": "ecr:GetAuthorizationToken and sagemaker:ListModelPackages have no resource-level "
            "permissions (the IAM service authorization reference lists no resource type for them: '*' is "
            "their only scope); the image pulls are limited to the two DLC repositories and "
            "DescribeModelPackage to the versions of the project's model package group.",
            f"Resource::{job}:model-package/{artifacts.model_package_group_name}/*": (
                "The evaluation reads the newest Approved version of the project's model package group; "
                "versions are numbered by SageMaker at registration, the group is fixed."
            ),
            **{
                f"Resource::{bucket}/{prefix}/*": f"Object-level access under the '{prefix}/' prefix of the "
                "run artifacts bucket: job outputs, datasets and checkpoints have run-specific keys "
                "(content-hash versions, job names) that are unknown when the role is created."
                for prefix in (*read_write, CODE_PREFIX)
            },
            **{
                f"Resource::arn:{NAG_PARTITION}:logs:{NAG_REGION}:{NAG_ACCOUNT}:log-group:{group}:*": (
                    f"SageMaker writes one log stream per job and instance into {group}; stream names are "
                    "created at run time, the group is the narrowest scope."
                )
                for group in JOB_LOG_GROUPS
            },
        }
        for model_id in model_ids:
            match = _GEO_PREFIX.match(model_id)
            if match:
                acknowledgements[
                    f"Resource::arn:{NAG_PARTITION}:bedrock:*::foundation-model/{model_id[match.end() :]}"
                ] = (
                    "A cross-region inference profile routes to the foundation model in any of its regions; "
                    "the model id is fixed, only the region varies."
                )
        for finding, reason in acknowledgements.items():
            nag.acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
        return role

    def _job_arns(self, kind: str, steps: tuple[str, ...]) -> list[str]:
        prefix = self._config.prefix
        return [
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:{kind}/{prefix}-{STEPS[step]}-*"
            for step in steps
        ]

    def _state_machine_policy(
        self,
        config: InfraConfig,
        cfg: TrainingConfig,
        artifacts: TrainingArtifacts,
        topic: sns.ITopic,
        topic_key: kms.IKey | None,
    ) -> None:
        sm = self.state_machine
        sm.add_to_role_policy(
            iam.PolicyStatement(
                sid="TrainingJobs",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=self._job_arns("training-job", TRAINING_STEPS),
            )
        )
        sm.add_to_role_policy(
            iam.PolicyStatement(
                sid="ProcessingJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=self._job_arns("processing-job", PROCESSING_STEPS),
            )
        )
        group = artifacts.model_package_group_name
        sm.add_to_role_policy(
            iam.PolicyStatement(
                sid="RegisterModelPackage",
                actions=["sagemaker:CreateModelPackage"],
                resources=[model_package_arns(group), artifacts.model_package_group_arn],
            )
        )
        sm.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassExecutionRoleToSageMaker",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        sm.add_to_role_policy(
            iam.PolicyStatement(
                sid="SyncIntegrationRules",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{rule}"
                    for rule in SYNC_RULES
                ],
            )
        )
        objects = bucket_arn(artifacts.bucket_name)
        sm.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadRunResults",
                actions=["s3:GetObject"],
                resources=[
                    f"{objects}/{DATASETS_PREFIX}/instruct/LATEST",
                    f"{objects}/{DATASETS_PREFIX}/preference/LATEST",
                    f"{objects}/{EVALUATIONS_PREFIX}/*",
                ],
            )
        )
        sm.add_to_role_policy(
            iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[topic.topic_arn])
        )
        if topic_key is not None:
            sm.add_to_role_policy(
                iam.PolicyStatement(
                    sid="NotifyEncryptedTopic",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[topic_key.key_arn],
                )
            )
        prefix = config.prefix
        job = f"arn:{NAG_PARTITION}:sagemaker:{NAG_REGION}:{NAG_ACCOUNT}"
        bucket = f"arn:{NAG_PARTITION}:s3:::{prefix}-artifacts-{NAG_ACCOUNT}-{NAG_REGION}"
        acknowledgements = {
            "Resource::*": "Only the statements CDK adds for tracing and logging use Resource '*': X-Ray "
            "(no resource-level permissions) and the CloudWatch Logs log-delivery actions "
            "(CreateLogDelivery etc. do not support resource-level permissions).",
            **{
                f"Resource::{job}:{kind}/{prefix}-{STEPS[step]}-*": (
                    f"Job names are '{prefix}-{STEPS[step]}-<execution name>', created per run: the "
                    "prefix is the narrowest scope that names them."
                )
                for kind, steps in (("training-job", TRAINING_STEPS), ("processing-job", PROCESSING_STEPS))
                for step in steps
            },
            f"Resource::{job}:model-package/{artifacts.model_package_group_name}/*": (
                "Model package versions are numbered by SageMaker at registration; the group is fixed."
            ),
            f"Resource::{bucket}/{EVALUATIONS_PREFIX}/*": (
                "Each run reads its own evaluations/<execution name>/evaluation.json; the execution name is "
                "only known at run time."
            ),
        }
        for finding, reason in acknowledgements.items():
            nag.acknowledge(sm.role, f"AwsSolutions-IAM5[{finding}]", reason)

    # --- substitutions --------------------------------------------------------------------------------

    def _substitutions(
        self,
        config: InfraConfig,
        cfg: TrainingConfig,
        artifacts: TrainingArtifacts,
        warehouse: Warehouse,
        topic: sns.ITopic,
    ) -> dict[str, str]:
        values: Mapping[str, str] = {
            "JobNamePrefix": config.prefix,
            "SageMakerRoleArn": self.role.role_arn,
            "ArtifactsBucket": artifacts.bucket_name,
            "CodeS3Uri": self.code.s3_object_url,
            "ContainerScript": json_string_content(CONTAINER_SCRIPT),
            "ProcessingImageUri": self.processing_image_uri,
            "TrainingImageUri": self.training_image_uri,
            "InferenceImageUri": self.inference_image_uri,
            "BaseModelId": cfg.base_model_id,
            "HfTokenSecretName": cfg.hf_token_secret_name or NO_SECRET,  # substitutions must not be empty
            "DatasetModelId": cfg.dataset_model_id,
            "DatasetConcurrency": str(cfg.dataset_concurrency),
            "JudgeModelId": cfg.effective_judge_model_id,
            "WarehouseTableName": warehouse.table.table_name,
            "Region": Aws.REGION,
            "ModelPackageGroupName": artifacts.model_package_group_name,
            "NotificationTopicArn": topic.topic_arn,
            "SftHyperParameters": intrinsic_json(self.hyperparameters["sft"]),
            "DpoHyperParameters": intrinsic_json(self.hyperparameters["dpo"]),
            "ProcessingResources": intrinsic_json(cluster_config(cfg.processing)),
            "ProcessingStoppingCondition": intrinsic_json(stopping_condition(cfg.processing)),
            "EvaluationResources": intrinsic_json(cluster_config(cfg.evaluation)),
            "EvaluationStoppingCondition": intrinsic_json(stopping_condition(cfg.evaluation)),
            "TrainingResourceConfig": intrinsic_json(cluster_config(cfg.training)["ClusterConfig"]),
            "TrainingStoppingCondition": intrinsic_json(
                stopping_condition(cfg.training, cfg.effective_max_wait_minutes)
            ),
            "TrainingSpot": intrinsic_json(cfg.spot),
            "TrainingRetryStrategy": intrinsic_json({"MaximumRetryAttempts": cfg.retry_attempts}),
            "ModelPackageEnvironment": intrinsic_json(self.model_package_environment),
        }
        return dict(values)
