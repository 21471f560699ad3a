"""The training workflow: datasets, SFT, DPO, evaluation, model registry (SageMaker, Step Functions).

The artifacts bucket and the model package group are stateful and live in the data stack; this stack
holds the state machine, the SageMaker execution role and the optional schedule. Failures notify the
project's alarm topic (features stack).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.training_workflow import TrainingWorkflow
from infra.stacks.data_stack import LlmTwinDataStack
from infra.stacks.features_stack import LlmTwinFeaturesStack


class LlmTwinTrainingStack(Stack):
    """Exposes ``workflow`` (:class:`TrainingWorkflow`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        data: LlmTwinDataStack,
        features: LlmTwinFeaturesStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="llm-twin: training workflow (datasets, SFT, DPO, evaluation, model registry)",
            **kwargs,
        )
        monitoring = features.monitoring
        self.workflow = TrainingWorkflow(
            self,
            "TrainingWorkflow",
            config=config,
            artifacts=data.training_artifacts,
            warehouse=data.warehouse,
            log_key=data.log_encryption.key,
            topic=monitoring.topic,
            topic_key=monitoring.key,
        )
        workflow = self.workflow
        CfnOutput(
            self,
            "TrainingStateMachineArn",
            value=workflow.state_machine.state_machine_arn,
            description="aws stepfunctions start-execution --state-machine-arn <arn> --input '{}'",
        )
        CfnOutput(
            self, "SageMakerRoleArn", value=workflow.role.role_arn, description="LLM_TWIN_SAGEMAKER_ROLE_ARN"
        )
        CfnOutput(self, "TrainingExecutionLogGroup", value=workflow.log_group.log_group_name)
        CfnOutput(self, "TrainingScheduleName", value=workflow.schedule.schedule.schedule_name)
        CfnOutput(self, "TrainingDeadLetterQueueUrl", value=workflow.schedule.dead_letter_queue.queue_url)
