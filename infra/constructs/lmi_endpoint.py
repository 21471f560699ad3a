"""The SageMaker LMI endpoint the API invokes: model, endpoint config, endpoint, autoscaling, hours, alarms.

Always created (free): the **execution role** and the endpoint's **log group**, so ``llm-twin deploy``
(``training/sagemaker/deploy.py``) can deploy an approved model package with the role even while the
CDK-managed endpoint is off. With ``endpointEnabled`` (default off: a GPU instance bills ~$1.4/h, and a
new environment has no approved model yet):

* ``CfnModel`` — the model data, one of (``infra/endpoint_config.py``):

  - ``endpointModelPackageArn`` (preferred): the container is the **approved model package** version
    (``ModelPackageName``): image and uncompressed S3 model data are exactly what the training workflow
    registered and a human approved;
  - ``endpointModelDataUrl``: an uncompressed ``s3://.../merged/`` prefix (``S3DataSource``,
    ``CompressionType: None``; no ``ModelAccessConfig``: our own weights, no EULA) served with the pinned
    LMI image of the region (``training.sagemaker.images``, the same source the workflow registers).

  Either way the environment is the LMI serving configuration
  (:func:`training.sagemaker.deploy.lmi_environment`: async vLLM engine, max model length, tensor
  parallel degree, dtype, batch size), which overrides the package's variables of the same name.
* ``CfnEndpointConfig`` — one variant (``lmiVariantName``), instance type/count, container startup
  health-check and model download timeouts. Volume encryption: instance types with local NVMe storage
  (g4dn, g5, g6, p4d, ...) **reject** ``KmsKeyId`` — their instance store is hardware-encrypted; other
  types get a customer-managed key (rotation on) for the EBS volume.
* ``CfnEndpoint`` named ``lmiEndpointName`` (what ``LLM_TWIN_LMI_ENDPOINT_NAME`` says), blue/green
  updates (all at once, 10 min bake) that roll back when the model-errors alarm fires.
* Application autoscaling: scalable target ``endpoint/<name>/variant/<variant>`` on
  ``sagemaker:variant:DesiredInstanceCount`` (min/max), target tracking on
  ``SageMakerVariantInvocationsPerInstance`` with scale-out/in cooldowns. No role: Application Auto
  Scaling uses its service-linked role for SageMaker.
* Working hours (``endpointSchedule``, off by default): ``scale`` mode = scheduled actions on the scalable
  target (min/max down at night, back in the morning; native, no role, CloudFormation stays the owner);
  ``stop`` mode = an EventBridge Scheduler pair (universal targets ``sagemaker:deleteEndpoint`` /
  ``sagemaker:createEndpoint`` with the stack's endpoint config), own role + DLQ; CloudFormation then
  owns model and config but not the endpoint.
* Alarms to the alarm topic: ModelLatency p95 and InvocationModelErrors (container errors and timeouts,
  which callers see as 4xx ``ModelError``). Invocation5XXErrors is alarmed by ``ApiMonitoring``
  (``infra/constructs/dashboard.py``), not here.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Aws, CfnTag, Duration, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from infra.config import InfraConfig
from infra.constructs.api import sagemaker_endpoint_arn
from infra.constructs.common import log_retention, scheduler_dead_letter_queue, scheduler_role
from infra.constructs.dlc_images import DlcImages
from infra.constructs.training_buckets import MODELS_PREFIX, TrainingArtifacts, bucket_arn
from infra.endpoint_config import EndpointConfig
from training.sagemaker import images
from training.sagemaker.deploy import has_instance_storage, lmi_environment

ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
METRICS_NAMESPACE = "/aws/sagemaker/*"  # the container's instance metrics (/aws/sagemaker/Endpoints)
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
FIVE_MINUTES = Duration.minutes(5)
BAKE_SECONDS = 600  # blue/green: the old fleet stays this long after the switch (rollback window)
DEPLOYMENT_TIMEOUT_SECONDS = 3600
_S3 = re.compile(r"^s3://([^/]+)/(.+)$")
NAG_PARTITION, NAG_REGION, NAG_ACCOUNT = "<AWS::Partition>", "<AWS::Region>", "<AWS::AccountId>"


def endpoint_log_group_name(endpoint_name: str) -> str:
    """Where SageMaker writes the container's stdout/stderr."""
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def scalable_resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


class LmiEndpoint(Construct):
    """Exposes ``role`` (execution role), ``log_group``, ``endpoint_name``, ``variant_name``,
    ``endpoint_arn``, ``image_uri`` (``None`` in package mode: the package's image), ``environment``,
    ``settings`` (:class:`EndpointConfig`) and, when enabled, ``model``, ``endpoint_config``,
    ``endpoint`` (``None`` in stop mode), ``volume_key`` (``None`` for instance-storage types),
    ``scalable_target``, ``scaling_policy``, ``schedules`` (``{"up", "down"}``, stop mode),
    ``schedule_role``, ``dead_letter_queue`` and ``alarms`` (by construct id)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        artifacts: TrainingArtifacts,
        log_key: kms.IKey,
        topic: sns.ITopic | None = None,
        endpoint: EndpointConfig | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        cfg = endpoint if endpoint is not None else config.endpoint  # type: ignore[attr-defined]
        self.settings = cfg
        self._config = config
        self._images = DlcImages(self)
        self.endpoint_name = config.lmi_endpoint_name
        self.variant_name = config.api.lmi_variant_name
        self.endpoint_arn = sagemaker_endpoint_arn(self.endpoint_name)
        self.environment = lmi_environment(cfg.serving)
        self.image_uri: str | None = None if cfg.model_source == "package" else self._inference_image_uri()
        self.model: sagemaker.CfnModel | None = None
        self.endpoint_config: sagemaker.CfnEndpointConfig | None = None
        self.endpoint: sagemaker.CfnEndpoint | None = None
        self.volume_key: kms.Key | None = None
        self.scalable_target: appscaling.CfnScalableTarget | None = None
        self.scaling_policy: appscaling.CfnScalingPolicy | None = None
        self.schedules: dict[str, scheduler.CfnSchedule] = {}
        self.schedule_role: iam.Role | None = None
        self.dead_letter_queue: sqs.Queue | None = None
        self.alarms: dict[str, cw.Alarm] = {}

        # Endpoint logs are operational: destroyed with the stack whatever removalPolicy says (the name is
        # fixed by SageMaker, so a retained group would block re-creating the stack).
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=endpoint_log_group_name(self.endpoint_name),
            retention=log_retention(config),
            encryption_key=log_key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = self._execution_role(config, cfg, artifacts)
        if not cfg.enabled:
            return
        self._model_and_config(config, cfg)
        if topic is not None:
            self._alarms(cfg, topic)
        if cfg.cloudformation_owns_endpoint:
            self._endpoint(config)
            self._autoscaling(cfg)
        else:
            self._stop_schedules(config, cfg)

    # --- image ----------------------------------------------------------------------------------------

    def _inference_image_uri(self) -> str:
        """The configured ``inferenceImageUri`` or the pinned DJL LMI image (what the workflow registers)."""
        override = self._config.training.inference_image_uri
        return override or self._images.uri(images.INFERENCE_REPOSITORY, images.INFERENCE_TAG)

    def _repository_arn(self) -> str:
        """The ECR repository of the serving image (the package's image comes from the same source)."""
        override = self._config.training.inference_image_uri
        return self._images.repository_arn(override, images.INFERENCE_REPOSITORY)

    # --- IAM ------------------------------------------------------------------------------------------

    def _execution_role(
        self, config: InfraConfig, cfg: EndpointConfig, artifacts: TrainingArtifacts
    ) -> iam.Role:
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"{config.prefix} LMI endpoint: model data (models/), LMI image pull, endpoint logs",
        )
        model_objects = artifacts.object_arns(MODELS_PREFIX)
        extra = self._outside_models_prefix(config, cfg.model_data_url)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ModelDataRead",
                actions=["s3:GetObject"],
                resources=model_objects + ([extra[1]] if extra else []),
            )
        )
        artifacts.grant_list(role, MODELS_PREFIX)
        if extra:
            bucket, _objects, prefix = extra
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ModelDataList",
                    actions=["s3:ListBucket"],
                    resources=[bucket],
                    conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
                )
            )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullLmiImage", actions=list(ECR_PULL_ACTIONS), resources=[self._repository_arn()]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="EcrToken", actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        group_arn = (
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:"
            f"{endpoint_log_group_name(self.endpoint_name)}"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EndpointLogs", actions=list(LOG_ACTIONS), resources=[group_arn, f"{group_arn}:*"]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )
        bucket = f"arn:{NAG_PARTITION}:s3:::{config.prefix}-artifacts-{NAG_ACCOUNT}-{NAG_REGION}"
        log_group = f"arn:{NAG_PARTITION}:logs:{NAG_REGION}:{NAG_ACCOUNT}:log-group:"
        acknowledgements = {
            "Resource::*": "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level "
            "permissions ('*' is their only scope); the pulls are limited to the LMI image repository and "
            "the metrics to the /aws/sagemaker/* namespaces by condition.",
            f"Resource::{bucket}/{MODELS_PREFIX}/*": "Approved model packages point at "
            f"'{MODELS_PREFIX}/<DPO job name>/output/model/merged/' of the artifacts bucket; job names are "
            "created per training run, so the models/ prefix is the narrowest scope that covers every "
            "version `llm-twin deploy` may deploy with this role.",
            f"Resource::{log_group}{endpoint_log_group_name(self.endpoint_name)}:*": "SageMaker writes one "
            "log stream per instance and container into the endpoint's log group; stream names are created "
            "at run time, the group is the narrowest scope.",
        }
        if extra:
            _bucket, _objects, key = extra
            nag_bucket = _S3.match(cfg.model_data_url).group(1)  # type: ignore[union-attr]
            acknowledgements[f"Resource::arn:{NAG_PARTITION}:s3:::{nag_bucket}/{key}*"] = (
                "endpointModelDataUrl: the configured model folder; SageMaker copies every object under it."
            )
        for finding, reason in acknowledgements.items():
            nag.acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
        return role

    @staticmethod
    def _outside_models_prefix(config: InfraConfig, url: str) -> tuple[str, str, str] | None:
        """(bucket ARN, object ARN pattern, key prefix) when ``url`` is not under the artifacts bucket's
        ``models/`` (which the role reads anyway)."""
        match = _S3.match(url) if url else None
        if not match:
            return None
        bucket, key = match.groups()
        if re.fullmatch(
            rf"{re.escape(config.prefix)}-artifacts-\d{{12}}-[a-z0-9-]+", bucket
        ) and key.startswith(f"{MODELS_PREFIX}/"):
            return None
        return bucket_arn(bucket), f"{bucket_arn(bucket)}/{key}*", key

    # --- model, config, endpoint -----------------------------------------------------------------------

    def _tags(self) -> list[CfnTag]:
        return [CfnTag(key="llm-twin:endpoint", value=self.endpoint_name)]

    def _model_and_config(self, config: InfraConfig, cfg: EndpointConfig) -> None:
        if cfg.model_source == "package":
            container = sagemaker.CfnModel.ContainerDefinitionProperty(
                model_package_name=cfg.model_package_arn, environment=self.environment
            )
        else:
            container = sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image_uri,
                model_data_source=sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=cfg.model_data_url, s3_data_type="S3Prefix", compression_type="None"
                    )
                ),
                environment=self.environment,
            )
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            primary_container=container,
            tags=self._tags(),
        )
        self.model.node.add_dependency(self.role)  # the policy must exist before SageMaker pulls and reads
        if not has_instance_storage(cfg.instance_type):
            self.volume_key = kms.Key(
                self,
                "VolumeKey",
                description=f"{config.prefix}: encrypts the LMI endpoint's ML storage volumes",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.DESTROY,  # volumes are ephemeral; nothing outlives the endpoint
                pending_window=Duration.days(7),
            )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=self.variant_name,
                    model_name=self.model.attr_model_name,
                    instance_type=cfg.instance_type,
                    initial_instance_count=cfg.instance_count,
                    initial_variant_weight=1,
                    container_startup_health_check_timeout_in_seconds=cfg.health_check_timeout_seconds,
                    model_data_download_timeout_in_seconds=cfg.model_download_timeout_seconds,
                )
            ],
            kms_key_id=self.volume_key.key_arn if self.volume_key is not None else None,
            tags=self._tags(),
        )

    def _endpoint(self, config: InfraConfig) -> None:
        assert self.endpoint_config is not None
        rollback = None
        errors = self.alarms.get("ModelErrors")
        if errors is not None:
            rollback = sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=errors.alarm_name)]
            )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                        type="ALL_AT_ONCE", wait_interval_in_seconds=0
                    ),
                    termination_wait_in_seconds=BAKE_SECONDS,
                    maximum_execution_timeout_in_seconds=DEPLOYMENT_TIMEOUT_SECONDS,
                ),
                auto_rollback_configuration=rollback,
            ),
            tags=self._tags(),
        )

    # --- autoscaling and working hours -----------------------------------------------------------------

    def _autoscaling(self, cfg: EndpointConfig) -> None:
        assert self.endpoint is not None
        # No role: Application Auto Scaling uses (and creates on first use) its service-linked role
        # AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint.
        target = appscaling.CfnScalableTarget(
            self,
            "ScalableTarget",
            service_namespace="sagemaker",
            resource_id=scalable_resource_id(self.endpoint_name, self.variant_name),
            scalable_dimension=SCALABLE_DIMENSION,
            min_capacity=cfg.min_instances,
            max_capacity=cfg.max_instances,
            scheduled_actions=self._scheduled_actions(cfg) or None,
        )
        target.node.add_dependency(self.endpoint)
        self.scalable_target = target
        policy = appscaling.CfnScalingPolicy(
            self,
            "InvocationsPerInstance",
            policy_name=f"{self.endpoint_name}-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=cfg.invocations_per_instance,
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                scale_out_cooldown=cfg.scale_out_cooldown_seconds,
                scale_in_cooldown=cfg.scale_in_cooldown_seconds,
            ),
        )
        self.scaling_policy = policy

    @staticmethod
    def _scheduled_actions(cfg: EndpointConfig) -> list[Any]:
        hours = cfg.schedule
        if not (hours.enabled and hours.mode == "scale"):
            return []
        action = appscaling.CfnScalableTarget.ScheduledActionProperty
        limits = appscaling.CfnScalableTarget.ScalableTargetActionProperty
        return [
            action(
                scheduled_action_name="working-hours-start",
                schedule=hours.up_expression,
                timezone=hours.time_zone,
                scalable_target_action=limits(min_capacity=cfg.min_instances, max_capacity=cfg.max_instances),
            ),
            action(
                scheduled_action_name="working-hours-end",
                schedule=hours.down_expression,
                timezone=hours.time_zone,
                scalable_target_action=limits(min_capacity=1, max_capacity=hours.off_hours_max_instances),
            ),
        ]

    def _stop_schedules(self, config: InfraConfig, cfg: EndpointConfig) -> None:
        assert self.endpoint_config is not None
        hours = cfg.schedule
        self.dead_letter_queue = scheduler_dead_letter_queue(
            self, "ScheduleDeadLetterQueue", what="the endpoint's start/stop schedules"
        )
        role = scheduler_role(
            self,
            "ScheduleRole",
            description=f"{config.prefix} LMI endpoint hours: create/delete the endpoint, dead-letter",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartEndpoint",
                actions=["sagemaker:CreateEndpoint", "sagemaker:AddTags"],
                resources=[self.endpoint_arn, self.endpoint_config.ref],  # Ref = the endpoint config's ARN
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StopEndpoint", actions=["sagemaker:DeleteEndpoint"], resources=[self.endpoint_arn]
            )
        )
        self.schedule_role = role
        start_input = {
            "EndpointName": self.endpoint_name,
            "EndpointConfigName": self.endpoint_config.attr_endpoint_config_name,
            "Tags": [{"Key": "llm-twin:endpoint", "Value": self.endpoint_name}],
        }
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DeadLetter", actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]
            )
        )
        # L1 schedules: the L2 Universal target always adds a `<service>:<action>` statement on '*'.
        for key, action, body, expression, what in (
            ("up", "createEndpoint", start_input, hours.up_expression, "start of working hours: create"),
            (
                "down",
                "deleteEndpoint",
                {"EndpointName": self.endpoint_name},
                hours.down_expression,
                "end: delete",
            ),
        ):
            self.schedules[key] = scheduler.CfnSchedule(
                self,
                "StartSchedule" if key == "up" else "StopSchedule",
                schedule_expression=expression,
                schedule_expression_timezone=hours.time_zone,
                flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                state="ENABLED",
                description=f"{config.prefix}: LMI endpoint {self.endpoint_name}, {what} the endpoint",
                target=scheduler.CfnSchedule.TargetProperty(
                    arn=f"arn:{Aws.PARTITION}:scheduler:::aws-sdk:sagemaker:{action}",
                    role_arn=role.role_arn,
                    input=Stack.of(self).to_json_string(body),
                    retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                        maximum_retry_attempts=hours.retry_attempts,
                        maximum_event_age_in_seconds=hours.max_event_age_minutes * 60,
                    ),
                    dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                        arn=self.dead_letter_queue.queue_arn
                    ),
                ),
            )

    # --- alarms ---------------------------------------------------------------------------------------

    def _metric(self, name: str, statistic: str) -> cw.Metric:
        return cw.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": self.variant_name},
            statistic=statistic,
            period=FIVE_MINUTES,
        )

    def _alarms(self, cfg: EndpointConfig, topic: sns.ITopic) -> None:
        gt = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        ge = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        for construct_id, metric, threshold, comparison, description in (
            (
                "ModelLatencyP95",
                self._metric("ModelLatency", "p95"),
                cfg.latency_alarm_ms * 1000,  # ModelLatency is in microseconds
                gt,
                f"LMI endpoint {self.endpoint_name}: p95 model latency above {cfg.latency_alarm_ms} ms "
                "(long generations, a saturated instance: raise endpointMaxInstances or lower max tokens).",
            ),
            (
                "ModelErrors",
                self._metric("InvocationModelErrors", "Sum"),
                1,
                ge,
                f"LMI endpoint {self.endpoint_name}: the container failed or timed out on invocations "
                "(callers get ModelError); also rolls back a blue/green update in its bake period.",
            ),
        ):
            alarm = cw.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=threshold,
                comparison_operator=comparison,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,  # idle or stopped = healthy
                alarm_description=description,
            )
            alarm.add_alarm_action(actions.SnsAction(topic))
            alarm.add_ok_action(actions.SnsAction(topic))
            self.alarms[construct_id] = alarm
