"""Every error leaves the API as JSON ``{"message", "details"?}`` with a 4xx status for bad input."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from llm_twin.api.pagination import InvalidCursorError
from llm_twin.errors import FetchError, InvalidInputError, LlmTwinError
from llm_twin.observability import logger
from llm_twin.warehouse.errors import NotFoundError


class RagUnavailableError(LlmTwinError):
    """The RAG service cannot be built here (not installed or not configured)."""


def error_response(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if details is not None:
        body["details"] = details
    return Response(status_code=int(status), content_type=content_types.APPLICATION_JSON, body=body)


def _details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Location, message and type of each problem; never the (possibly large) offending input."""
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        details = _details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(HTTPStatus.BAD_REQUEST, "the request body is not valid JSON", details)
        if details and all(d["loc"][:1] == ["query"] for d in details):  # e.g. ?limit=0: a 400, named
            problems = "; ".join(f"{'.'.join(d['loc'][1:])}: {d['msg']}" for d in details)
            return error_response(HTTPStatus.BAD_REQUEST, f"invalid query parameter: {problems}", details)
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "the request is invalid", details)

    @app.exception_handler(RequestUnsupportedContentType)
    def _media_type(exc: RequestUnsupportedContentType) -> Response:
        return error_response(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the request body must be application/json")

    @app.exception_handler(NotFoundError)
    def _not_found(exc: NotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, str(exc))

    @app.exception_handler(FetchError)
    def _bad_link(exc: FetchError) -> Response:  # InvalidUrlError / BlockedUrlError from the SSRF guard
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))

    @app.exception_handler(InvalidCursorError)
    def _invalid_cursor(exc: InvalidCursorError) -> Response:
        return error_response(HTTPStatus.BAD_REQUEST, str(exc))

    @app.exception_handler(InvalidInputError)
    def _invalid_input(exc: InvalidInputError) -> Response:
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))

    @app.exception_handler(RagUnavailableError)
    def _rag_unavailable(exc: RagUnavailableError) -> Response:
        return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "RAG service unavailable")

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        return error_response(exc.status_code, exc.msg)

    @app.not_found
    def _no_route(exc: Exception) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
