"""One customer-managed KMS key for the project's CloudWatch log groups.

Function logs and the workflows' execution logs (ALL events, with inputs: author names, links, errors)
are encrypted with it. One key for every capability's log groups costs $1/month whatever their number;
CloudWatch Logs caches data keys, so request charges stay negligible.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.common import removal_policy

# Explicit equivalents of the Encrypt*/Decrypt*/ReEncrypt*/GenerateDataKey*/Describe* grant that the
# CloudWatch Logs documentation shows: no wildcard actions anywhere in this project.
LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)


class LogEncryption(Construct):
    """Exposes ``key``; pass it as ``encryption_key`` of every ``logs.LogGroup``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"{config.prefix}: encrypts the CloudWatch log groups of llm-twin",
            enable_key_rotation=True,
            removal_policy=removal_policy(config),
            pending_window=Duration.days(30 if config.retain_data else 7),
        )
        # CloudWatch Logs uses the key on behalf of log groups of this account and region only.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )
