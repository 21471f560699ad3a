"""Prompt traces: one DynamoDB item per RAG/generate call (query, retrieved sources, prompt, answer, timings).

Stateful, so it lives in the data stack. Items expire through DynamoDB TTL (``expires_at``, epoch
seconds written by the API: now + ``tracesRetentionDays``); expiry deletes are free and do not consume
write capacity. The API function may only write (and describe) the table: traces are read by people
(console, exports), not by the request path.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.common import removal_policy

PARTITION_KEY = "pk"  # the trace id
TTL_ATTRIBUTE = "expires_at"  # epoch seconds; DynamoDB deletes the item (typically within days) after it
# pynamodb describes a table before its first write; BatchWriteItem for multi-trace flushes.
WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable")


class PromptTraces(Construct):
    """Exposes ``table``, ``retention_days`` and ``grant_write(grantee)``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.retention_days = config.api.traces_retention_days
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=35
            ),
            # As the warehouse: the AWS managed key (no monthly fee, no key policy to maintain).
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=config.retain_data,
            removal_policy=removal_policy(config),
        )

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Put (and describe) on exactly this table: no reads, updates or deletes."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(WRITE_ACTIONS), resource_arns=[self.table.table_arn]
        )
