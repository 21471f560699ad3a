"""Stateful side of the training workflow: the artifacts bucket, its access-log bucket, the model registry.

Lives in the data stack (stateful, retained with the data); the workflow (compute) gets its names.

* ``<prefix>-artifacts-<account>-<region>`` holds everything a run reads or writes, by prefix:
  ``datasets/`` (versioned dataset folders + ``<kind>/LATEST``), ``models/`` (training job outputs,
  uncompressed: ``<job>/output/model/{adapter,merged}/``), ``checkpoints/`` (spot checkpoints),
  ``evaluations/`` (evaluation reports), ``code/`` (sources the SDK launcher uploads). The name is
  physical (account + region make it globally unique) so IAM policies in other stacks name prefixes
  of it without cross-stack tokens.
* Encryption: **SSE-S3**. The contents are derived from the author's public writing and the weights of
  an open model; SSE-S3 costs nothing, needs no key policy, and SageMaker jobs, the LMI endpoint's
  role and Step Functions read/write without KMS grants. A customer key would add $1/month plus
  kms:Decrypt/GenerateDataKey grants on every role that touches a model (and KmsKeyId on every job)
  for control this project does not need (no cross-account sharing, no crypto-shredding).
* Versioned, all public access blocked, TLS-only (``aws:SecureTransport`` deny), object ownership
  enforced (no ACLs). Lifecycle: noncurrent versions expire (``noncurrentVersionDays``), incomplete
  multipart uploads are aborted after 7 days (multi-GB model uploads), ``checkpoints/`` expire after
  ``checkpointRetentionDays`` (only an interrupted spot job needs them), ``code/`` after 30 days.
* Server access logs go to a second private bucket (SSE-S3, TLS-only) that expires them after the
  log retention period — the project's convention (see the web page bucket).
* The Model Package Group ``<prefix>-twin`` (or ``modelPackageGroupName``): every gated run registers a
  version there with status PendingManualApproval.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.common import access_log_bucket, removal_policy
from infra.training_config import TrainingConfig

DATASETS_PREFIX = "datasets"
MODELS_PREFIX = "models"
CHECKPOINTS_PREFIX = "checkpoints"
EVALUATIONS_PREFIX = "evaluations"
CODE_PREFIX = "code"  # training.sagemaker.launcher.CODE_PREFIX
PREFIXES = (DATASETS_PREFIX, MODELS_PREFIX, CHECKPOINTS_PREFIX, EVALUATIONS_PREFIX, CODE_PREFIX)
ABORT_MULTIPART_DAYS = 7
CODE_RETENTION_DAYS = 30


def artifacts_bucket_name(config: InfraConfig) -> str:
    """``llm-twin-<env>-artifacts-<account>-<region>`` (at most 16 + 9 + 11 + 12 + 1 + 14 = 63 chars)."""
    return f"{config.prefix}-artifacts-{Aws.ACCOUNT_ID}-{Aws.REGION}"


def bucket_arn(bucket_name: str) -> str:
    return f"arn:{Aws.PARTITION}:s3:::{bucket_name}"


class TrainingArtifacts(Construct):
    """Exposes ``bucket``, ``bucket_name`` (the physical name, tokens for account/region),
    ``log_bucket``, ``model_package_group`` (L1), ``model_package_group_name`` and
    ``model_package_group_arn``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        training: TrainingConfig | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        cfg = training if training is not None else config.training  # type: ignore[attr-defined]
        self.bucket_name = artifacts_bucket_name(config)
        self.log_bucket = access_log_bucket(self, "AccessLogs", config)
        # cdk-nag does not ask a bucket that receives server access logs to log itself (AwsSolutions-S1).
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=self.bucket_name,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # why not KMS: module docstring
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(cfg.noncurrent_version_days),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteMultipartUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(ABORT_MULTIPART_DAYS),
                ),
                s3.LifecycleRule(
                    id="ExpireCheckpoints",
                    prefix=f"{CHECKPOINTS_PREFIX}/",
                    expiration=Duration.days(cfg.checkpoint_retention_days),
                ),
                s3.LifecycleRule(
                    id="ExpireLaunchedCode",
                    prefix=f"{CODE_PREFIX}/",
                    expiration=Duration.days(CODE_RETENTION_DAYS),
                ),
            ],
            removal_policy=removal_policy(config),
        )
        self.model_package_group_name = cfg.group_name(config.prefix)
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=self.model_package_group_name,
            model_package_group_description=(
                f"{config.prefix}: fine-tuned twin models (SFT then DPO); the training workflow registers "
                "each run that passes evaluation as PendingManualApproval"
            ),
        )
        self.model_package_group.apply_removal_policy(removal_policy(config))
        self.model_package_group_arn = (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
            f"model-package-group/{self.model_package_group_name}"
        )

    def object_arns(self, *prefixes: str) -> list[str]:
        """``arn:...:s3:::<bucket>/<prefix>/*`` for each prefix."""
        return [f"{bucket_arn(self.bucket_name)}/{prefix}/*" for prefix in prefixes]

    def grant_list(self, grantee: iam.IGrantable, *prefixes: str) -> None:
        """s3:ListBucket limited to keys under the prefixes (``s3:prefix`` condition)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket_arn(self.bucket_name)],
                conditions={"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes] + list(prefixes)}},
            )
        )
