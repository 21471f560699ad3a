"""The collection capability: shared layer, collection workflow, re-crawl schedule.

The layer lives in the stack of the functions that use it: a LayerVersion ARN exported across stacks
would block every layer update (CloudFormation refuses to change an export in use). A later compute
stack creates its own :class:`SharedLayer` (same asset, uploaded once).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.collection_workflow import CollectionWorkflow
from infra.constructs.recrawl_schedule import RecrawlSchedule
from infra.constructs.shared_layer import SharedLayer
from infra.stacks.data_stack import LlmTwinDataStack


class LlmTwinCollectionStack(Stack):
    """Exposes ``shared_layer``, ``workflow`` (:class:`CollectionWorkflow`) and ``recrawl``."""

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
            description="llm-twin: collection workflow (validate, crawl each link, finalize), re-crawl",
            **kwargs,
        )
        self.shared_layer = SharedLayer(self, "SharedLayer")
        self.workflow = CollectionWorkflow(
            self,
            "CollectionWorkflow",
            config=config,
            warehouse=data.warehouse,
            shared_layer=self.shared_layer,
            log_key=data.log_encryption.key,
        )
        self.recrawl = RecrawlSchedule(
            self, "RecrawlSchedule", config=config, state_machine=self.workflow.state_machine
        )

        sm = self.workflow.state_machine
        CfnOutput(
            self,
            "CollectionStateMachineArn",
            value=sm.state_machine_arn,
            description="LLM_TWIN_COLLECTION_STATE_MACHINE_ARN",
        )
        CfnOutput(self, "CollectionExecutionLogGroup", value=self.workflow.log_group.log_group_name)
        CfnOutput(self, "SharedLayerVersionArn", value=self.shared_layer.layer.layer_version_arn)
        for label, fn in (
            ("Validate", self.workflow.validate),
            ("Crawl", self.workflow.crawl),
            ("Finalize", self.workflow.finalize),
        ):
            CfnOutput(self, f"Collect{label}FunctionName", value=fn.function.function_name)
        CfnOutput(self, "RecrawlScheduleName", value=self.recrawl.schedule.schedule_name)
        CfnOutput(self, "RecrawlDeadLetterQueueUrl", value=self.recrawl.dead_letter_queue.queue_url)
