"""``GET /health``: liveness and the deployed version (public: no API key)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from llm_twin.api.config import api_version
from llm_twin.api.models import Health
from llm_twin.api.routes import documented


def health_router() -> Router:
    router = Router()

    @router.get(
        "/health",
        summary="Liveness and version",
        tags=["health"],
        responses=documented(200, Health, "The API is up"),
    )
    def health() -> Health:
        return Health(version=api_version())

    return router
