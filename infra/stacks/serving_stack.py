"""The SageMaker LMI endpoint the API invokes (issue 6).

Always: the endpoint's execution role (``llm-twin deploy`` uses it) and log group. With
``endpointEnabled``: the model, endpoint config, endpoint, autoscaling, working hours and alarms
(:class:`infra.constructs.lmi_endpoint.LmiEndpoint`). A stack of its own so the GPU endpoint has its own
lifecycle (``cdk destroy LlmTwinServingStack`` ends the bill, the API stays); the API invokes the endpoint
by name (``lmiEndpointName``), so no reference crosses between the two.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.lmi_endpoint import LmiEndpoint
from infra.stacks.data_stack import LlmTwinDataStack
from infra.stacks.features_stack import LlmTwinFeaturesStack


class LlmTwinServingStack(Stack):
    """Exposes ``endpoint`` (:class:`LmiEndpoint`)."""

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
            description="llm-twin: SageMaker LMI endpoint (model, endpoint, autoscaling, hours, alarms)",
            **kwargs,
        )
        self.endpoint = LmiEndpoint(
            self,
            "LmiEndpoint",
            config=config,
            artifacts=data.training_artifacts,
            log_key=data.log_encryption.key,
            topic=features.monitoring.topic,
        )
        endpoint = self.endpoint
        CfnOutput(
            self,
            "LmiEndpointName",
            value=endpoint.endpoint_name,
            description="LLM_TWIN_LMI_ENDPOINT_NAME (the API's and llm-twin deploy's endpoint)",
        )
        CfnOutput(
            self,
            "LmiExecutionRoleArn",
            value=endpoint.role.role_arn,
            description="LLM_TWIN_DEPLOY_ROLE_ARN (llm-twin deploy)",
        )
        CfnOutput(self, "LmiLogGroup", value=endpoint.log_group.log_group_name)
        if endpoint.endpoint_config is not None:
            CfnOutput(self, "LmiEndpointConfigName", value=endpoint.endpoint_config.attr_endpoint_config_name)
