"""One Router per capability; each module exposes a builder so every resolver gets its own routers."""

from __future__ import annotations

from typing import Any

from llm_twin.api.models import ErrorBody

SECURED: list[dict[str, list[str]]] = [{"apiKey": []}]  # the OpenAPI security requirement of a route

ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON",
    403: "Missing or wrong API key (checked by API Gateway)",
    404: "Not found",
    413: "The body exceeds 64 KB",
    422: "Invalid request (wrong types, missing fields, refused links)",
    503: "Service unavailable",
}


def documented(status: int, model: Any, description: str, *errors: int) -> dict[int, dict[str, Any]]:
    """OpenAPI responses: the success (``model`` None: no body) and each error as ``ErrorBody``."""
    ok: dict[str, Any] = {"description": description}
    if model is not None:
        ok["content"] = {"application/json": {"model": model}}
    responses = {status: ok}
    for code in errors:
        responses[code] = {
            "description": ERROR_DESCRIPTIONS[code],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return responses
