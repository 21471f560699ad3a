"""One Lambda function the way every capability wants it: a thin handler folder + the shared layer.

arm64, Python 3.12, active X-Ray tracing, its own KMS-encrypted log group with retention, its own role
with explicit log permissions (no AWSLambdaBasicExecutionRole managed policy), powertools settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import nag
from infra.config import InfraConfig
from infra.constructs.common import log_retention, removal_policy
from infra.constructs.shared_layer import SharedLayer
from infra.paths import lambda_dir

POWERTOOLS_METRICS_NAMESPACE = "LlmTwin"
ASSET_EXCLUDES = ("__pycache__", "*.pyc", "*.pyo")


class LayeredFunction(Construct):
    """Exposes ``function``, ``role``, ``log_group`` and ``handler_name``.

    ``handler_name`` is the folder under ``lambdas/`` (the asset); the handler is ``handler.handler``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_name: str,
        description: str,
        shared_layer: SharedLayer,
        log_key: kms.IKey,
        config: InfraConfig,
        service: str,
        memory_mb: int,
        timeout: Duration,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler_name = handler_name
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            encryption_key=log_key,
            retention=log_retention(config),
            removal_policy=removal_policy(config),
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{config.prefix} {handler_name}: logs, traces, and the grants its capability adds",
        )
        # The log group exists (explicit resource), so CreateLogGroup is not needed.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            code=lambda_.Code.from_asset(str(lambda_dir(handler_name)), exclude=list(ASSET_EXCLUDES)),
            handler="handler.handler",
            runtime=shared_layer.runtime,
            architecture=shared_layer.architecture,
            layers=[shared_layer.layer],
            memory_size=memory_mb,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": config.log_level,
                **(environment or {}),
            },
        )
        nag.acknowledge(self.function, "AwsSolutions-L1", nag.PYTHON_RUNTIME_PINNED)
        nag.acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]", nag.XRAY_RESOURCE_STAR)
