"""Small translations from :class:`infra.config.InfraConfig` to CDK values."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from infra.config import InfraConfig

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS, 150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS, 2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}  # fmt: skip


def log_retention(config: InfraConfig) -> logs.RetentionDays:
    return _RETENTION[config.log_retention_days]


def removal_policy(config: InfraConfig) -> RemovalPolicy:
    """RETAIN (default) keeps data and logs when a stack is deleted; ``removalPolicy=destroy`` is for dev."""
    return RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY


def scheduler_dead_letter_queue(scope: Construct, construct_id: str, *, what: str) -> sqs.Queue:
    """The dead-letter queue of EventBridge Scheduler schedules (``what`` names them in the finding)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,  # free SSE; a KMS key would need scheduler grants
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    nag.acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself the dead-letter queue of {what} (cdk-nag only recognizes DLQs referenced "
        "by an SQS redrive policy); a DLQ of a DLQ adds nothing.",
    )
    return queue


def scheduler_role(scope: Construct, construct_id: str, *, description: str) -> iam.Role:
    """The execution role of EventBridge Scheduler schedules. Confused-deputy guard: only schedules of
    this account's default group may assume it. The caller grants what the schedules do."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com",
            conditions={
                "StringEquals": {
                    "aws:SourceAccount": Aws.ACCOUNT_ID,
                    "aws:SourceArn": (
                        f"arn:{Aws.PARTITION}:scheduler:{Aws.REGION}:{Aws.ACCOUNT_ID}:schedule-group/default"
                    ),
                }
            },
        ),
        description=description,
    )


def access_log_bucket(scope: Construct, construct_id: str, config: InfraConfig) -> s3.Bucket:
    """A private bucket that receives another bucket's server access logs (SSE-S3, TLS only, no ACLs),
    expired after ``log_retention_days``. cdk-nag does not ask it to log itself (AwsSolutions-S1)."""
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[
            s3.LifecycleRule(id="ExpireLogs", expiration=Duration.days(config.log_retention_days))
        ],
        removal_policy=removal_policy(config),
    )
