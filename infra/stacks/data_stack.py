"""Stateful resources: the warehouse table and the log encryption key (later: buckets, vector domain).

Kept apart so compute stacks can be destroyed and re-created freely; with ``removalPolicy=retain``
(default) the stack has termination protection and its resources are retained.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.log_encryption import LogEncryption
from infra.constructs.warehouse import Warehouse


class LlmTwinDataStack(Stack):
    """Exposes ``warehouse`` (:class:`Warehouse`) and ``log_encryption`` (:class:`LogEncryption`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="llm-twin: stateful data (warehouse table, log encryption key)",
            termination_protection=config.retain_data,
            **kwargs,
        )
        self.warehouse = Warehouse(self, "Warehouse", config=config)
        self.log_encryption = LogEncryption(self, "LogEncryption", config=config)

        table = self.warehouse.table
        CfnOutput(self, "WarehouseTableName", value=table.table_name, description="LLM_TWIN_TABLE_NAME")
        CfnOutput(self, "WarehouseTableArn", value=table.table_arn)
        CfnOutput(
            self,
            "WarehouseTableStreamArn",
            value=table.table_stream_arn or "",
            description="DynamoDB stream (NEW_AND_OLD_IMAGES) the feature indexer consumes",
        )
        CfnOutput(self, "LogEncryptionKeyArn", value=self.log_encryption.key.key_arn)
