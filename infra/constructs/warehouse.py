"""The warehouse: one DynamoDB table (authors, documents, collection runs) whose stream feeds the indexer.

Physical schema comes from ``llm_twin.warehouse.schema`` (the same constants and ``CreateTable`` request
the pynamodb models and the local runtime use), never restated here.
"""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.common import removal_policy
from llm_twin.warehouse import schema

READ_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)
WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)
_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _table_request() -> dict[str, Any]:
    """``schema.create_table_request``, checked against the key constants it must agree with."""
    request = schema.create_table_request("warehouse")
    keys = {k["KeyType"]: k["AttributeName"] for k in cast(list[dict[str, str]], request["KeySchema"])}
    if keys != {"HASH": schema.PARTITION_KEY, "RANGE": schema.SORT_KEY}:
        raise ValueError(
            f"schema.create_table_request key schema {keys} disagrees with PARTITION_KEY/SORT_KEY"
        )
    return request


class Warehouse(Construct):
    """The single-table warehouse. ``table`` is the public handle; grant through the methods below so
    every grant is table-and-named-index scoped (no ``index/*`` wildcard)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        request = _table_request()
        types = {
            a["AttributeName"]: _ATTRIBUTE_TYPES[a["AttributeType"]]
            for a in cast(list[dict[str, str]], request["AttributeDefinitions"])
        }

        def attribute(name: str) -> dynamodb.Attribute:
            return dynamodb.Attribute(name=name, type=types[name])

        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=attribute(schema.PARTITION_KEY),
            sort_key=attribute(schema.SORT_KEY),
            billing_mode=dynamodb.BillingMode(schema.BILLING_MODE),
            stream=dynamodb.StreamViewType(schema.STREAM_VIEW_TYPE),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=35
            ),
            # AWS managed key (aws/dynamodb): no monthly key fee, usage auditable in CloudTrail, and stream
            # consumers need no kms grants. A customer key would add $1/month + key-policy upkeep for
            # control (cross-account use, crypto-shredding) this project does not need; switching later
            # is an in-place table update.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=config.retain_data,
            removal_policy=removal_policy(config),
        )
        self.index_names: tuple[str, ...] = ()
        for gsi in cast(list[dict[str, Any]], request.get("GlobalSecondaryIndexes", [])):
            self._add_index(gsi, attribute)

    def _add_index(self, gsi: dict[str, Any], attribute: Any) -> None:
        keys = {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]}
        projection = gsi.get("Projection", {"ProjectionType": "ALL"})
        self.table.add_global_secondary_index(
            index_name=gsi["IndexName"],
            partition_key=attribute(keys["HASH"]),
            sort_key=attribute(keys["RANGE"]) if "RANGE" in keys else None,
            projection_type=dynamodb.ProjectionType(projection["ProjectionType"]),
            non_key_attributes=projection.get("NonKeyAttributes"),
        )
        self.index_names = (*self.index_names, gsi["IndexName"])

    @property
    def resource_arns(self) -> list[str]:
        """The table ARN and one ARN per named index."""
        arn = self.table.table_arn
        return [arn, *(f"{arn}/index/{name}" for name in self.index_names)]

    def grant_read_data(self, grantee: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(READ_ACTIONS), resource_arns=self.resource_arns
        )

    def grant_read_write_data(self, grantee: iam.IGrantable) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=[*READ_ACTIONS, *WRITE_ACTIONS], resource_arns=self.resource_arns
        )
