"""The resolver: routers, error handlers, CORS and the OpenAPI document. Built on first use (no I/O
at import) and cached per API configuration."""

from __future__ import annotations

import json
import threading
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

from llm_twin.api.config import ApiSettings, api_version
from llm_twin.api.errors import register_error_handlers
from llm_twin.api.routes.authors import authors_router
from llm_twin.api.routes.collections import collections_router
from llm_twin.api.routes.health import health_router
from llm_twin.api.routes.rag import rag_router
from llm_twin.api.routes.training import training_router

API_KEY_HEADER = "x-api-key"
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})  # no API key (API Gateway: apiKeyRequired false)
TITLE = "llm-twin API"
DESCRIPTION = (
    "Authors and their links, collection runs, retrieval-augmented answers and drafts in the author's "
    "voice. Every operation except /health needs an API key in the `x-api-key` header (API Gateway "
    "API keys with a usage plan: throttling and a quota)."
)

_apps: dict[str, APIGatewayRestResolver] = {}
_lock = threading.Lock()


def cors_config(api: ApiSettings) -> CORSConfig | None:
    if not api.web_origin:
        return None
    return CORSConfig(allow_origin=api.web_origin, max_age=600)  # allows x-api-key


def build_app(api: ApiSettings) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(cors=cors_config(api), enable_validation=True)
    register_error_handlers(app)
    for router in (health_router(), authors_router(), collections_router(), rag_router(), training_router()):
        app.include_router(router)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response[Any]:
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json(app))

    return app


def get_app(api: ApiSettings | None = None) -> APIGatewayRestResolver:
    api = api or ApiSettings()
    key = api.model_dump_json()
    with _lock:
        app = _apps.get(key)
        if app is None:
            app = _apps[key] = build_app(api)
        return app


def openapi_json(app: APIGatewayRestResolver | None = None) -> str:
    """The OpenAPI document, as committed in docs/openapi.json (stable: sorted keys, 2-space indent)."""
    app = app or get_app()
    document = app.get_openapi_json_schema(
        title=TITLE,
        version=api_version(),
        description=DESCRIPTION,
        security_schemes={"apiKey": APIKey(name=API_KEY_HEADER, in_=APIKeyIn.header)},
    )
    return json.dumps(json.loads(document), indent=2, sort_keys=True) + "\n"
