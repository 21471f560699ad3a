"""Stateful resources: the warehouse table, the log encryption key and the vector index domain.

Kept apart so compute stacks can be destroyed and re-created freely; with ``removalPolicy=retain``
(default) the stack has termination protection and its resources are retained.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.log_encryption import LogEncryption
from infra.constructs.traces import PromptTraces
from infra.constructs.training_buckets import TrainingArtifacts
from infra.constructs.vector_index import VectorIndex
from infra.constructs.warehouse import Warehouse


class LlmTwinDataStack(Stack):
    """Exposes ``warehouse`` (:class:`Warehouse`), ``log_encryption`` (:class:`LogEncryption`) and
    ``vector_index`` (:class:`VectorIndex`; compute stacks grant their roles on it) and ``traces``
    (:class:`PromptTraces`, the API's prompt traces)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="llm-twin: stateful data (warehouse table, log encryption key, vector index domain)",
            termination_protection=config.retain_data,
            **kwargs,
        )
        self.warehouse = Warehouse(self, "Warehouse", config=config)
        self.log_encryption = LogEncryption(self, "LogEncryption", config=config)
        self.vector_index = VectorIndex(self, "VectorIndex", config=config, log_key=self.log_encryption.key)
        self.traces = PromptTraces(self, "PromptTraces", config=config)
        self.training_artifacts = TrainingArtifacts(self, "TrainingArtifacts", config=config)

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
        domain = self.vector_index.domain
        CfnOutput(
            self,
            "VectorDomainEndpoint",
            value=self.vector_index.endpoint,
            description="LLM_TWIN_OPENSEARCH_ENDPOINT",
        )
        CfnOutput(self, "VectorDomainName", value=domain.domain_name)
        CfnOutput(self, "VectorDomainArn", value=domain.domain_arn)
        CfnOutput(
            self,
            "VectorIndexName",
            value=self.vector_index.index_name,
            description="LLM_TWIN_INDEX_NAME (alias created by the indexer)",
        )
        CfnOutput(
            self,
            "PromptTracesTableName",
            value=self.traces.table.table_name,
            description="LLM_TWIN_TRACES_TABLE_NAME",
        )
        CfnOutput(
            self,
            "TrainingArtifactsBucketName",
            value=self.training_artifacts.bucket.bucket_name,
            description="LLM_TWIN_SAGEMAKER_BUCKET",
        )
        CfnOutput(self, "ModelPackageGroupName", value=self.training_artifacts.model_package_group_name)
