"""The feature pipeline: the indexer on the warehouse stream, its alarms and their notification topic.

Like the collection stack, it has its own :class:`SharedLayer` (a LayerVersion ARN must never cross
stacks). It imports only stable identifiers from the data stack: table name/ARN/stream ARN, the log
key ARN, the domain's ARN, endpoint and name.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.feature_indexer import FeatureIndexer
from infra.constructs.monitoring import FeaturePipelineAlarms, Monitoring
from infra.constructs.shared_layer import SharedLayer
from infra.stacks.data_stack import LlmTwinDataStack


class LlmTwinFeaturesStack(Stack):
    """Exposes ``shared_layer``, ``indexer`` (:class:`FeatureIndexer`), ``monitoring`` and ``alarms``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        data: LlmTwinDataStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="llm-twin: feature pipeline (warehouse stream -> embeddings -> vector index), alarms",
            **kwargs,
        )
        self.shared_layer = SharedLayer(self, "SharedLayer")
        self.indexer = FeatureIndexer(
            self,
            "FeatureIndexer",
            config=config,
            warehouse=data.warehouse,
            vector_index=data.vector_index,
            shared_layer=self.shared_layer,
            log_key=data.log_encryption.key,
        )
        self.monitoring = Monitoring(self, "Monitoring", config=config)
        self.alarms = FeaturePipelineAlarms(
            self,
            "FeaturePipelineAlarms",
            config=config,
            monitoring=self.monitoring,
            indexer=self.indexer,
            vector_index=data.vector_index,
        )

        CfnOutput(self, "FeatureIndexerFunctionName", value=self.indexer.indexer.function.function_name)
        CfnOutput(
            self,
            "FeatureIndexerDeadLetterQueueUrl",
            value=self.indexer.dead_letter_queue.queue_url,
            description="Failed stream batches (shard, sequence numbers, error), kept 14 days",
        )
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
