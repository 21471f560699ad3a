"""The HTTP API behind API Gateway (REST, Lambda proxy integration): body checks, then the resolver."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from llm_twin.api.app import get_app
from llm_twin.api.config import ApiSettings
from llm_twin.api.limits import rejected
from llm_twin.observability import logger, metrics, tracer


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    api = ApiSettings()
    refusal = rejected(event, api)
    if refusal is not None:
        metrics.add_metric(name=f"Rejected{refusal['statusCode']}", unit="Count", value=1)
        return refusal
    return get_app(api).resolve(event, context)
