"""The inference API: API Gateway -> the API function, the web page (S3 + CloudFront) that calls it, its
alarms and the project's dashboard.

Its own :class:`SharedLayer` (a LayerVersion ARN must never cross stacks). It imports stable
identifiers only: from the data stack (table, domain, traces table, log key), the collection state
machine's ARN (``LLM_TWIN_COLLECTION_STATE_MACHINE_ARN``), and from the features stack the alarm topic
and the indexer's function/queue names (dashboard, no resource of theirs changes).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import InfraConfig
from infra.constructs.api import Api
from infra.constructs.dashboard import ApiMonitoring
from infra.constructs.shared_layer import SharedLayer
from infra.constructs.web_page import WebPage
from infra.stacks.collection_stack import LlmTwinCollectionStack
from infra.stacks.data_stack import LlmTwinDataStack
from infra.stacks.features_stack import LlmTwinFeaturesStack


class LlmTwinApiStack(Stack):
    """Exposes ``shared_layer``, ``web`` (:class:`WebPage`), ``api`` (:class:`Api`) and ``monitoring``
    (:class:`ApiMonitoring`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        data: LlmTwinDataStack,
        collection: LlmTwinCollectionStack,
        features: LlmTwinFeaturesStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="llm-twin: inference API (API Gateway + API function), API alarms, dashboard",
            **kwargs,
        )
        state_machine = collection.workflow.state_machine
        self.shared_layer = SharedLayer(self, "SharedLayer")
        # The page first: the API's CORS allows its origin, the page's CSP and config.json name the API.
        self.web = WebPage(self, "Web", config=config, log_key=data.log_encryption.key)
        self.api = Api(
            self,
            "Api",
            config=config,
            warehouse=data.warehouse,
            vector_index=data.vector_index,
            state_machine=state_machine,
            traces=data.traces,
            shared_layer=self.shared_layer,
            log_key=data.log_encryption.key,
            web_origin=self.web.origin,
        )
        self.web.connect_api(self.api.rest_api)
        self.monitoring = ApiMonitoring(
            self,
            "Monitoring",
            config=config,
            api=self.api,
            topic=features.monitoring.topic,
            indexer=features.indexer,
            state_machine=state_machine,
        )

        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url, description="Base URL (stage v1)")
        CfnOutput(
            self,
            "ApiKeyId",
            value=self.api.api_key.key_id,
            description="aws apigateway get-api-key --include-value --api-key <id> (send as X-Api-Key)",
        )
        CfnOutput(self, "WebUrl", value=self.web.url, description="The web page (CloudFront)")
        CfnOutput(self, "ApiFunctionName", value=self.api.handler.function.function_name)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard_name)
