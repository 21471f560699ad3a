"""Checks made before the resolver parses anything: the body cap (a huge body never reaches pydantic;
API Gateway's own cap is 10 MB, this one is the API's) and the body's media type (JSON only, UTF-8)."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any

from llm_twin.api.config import ApiSettings


def body_size(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return len(body) * 3 // 4
    return len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body)


def cors_headers(event: dict[str, Any], api: ApiSettings) -> dict[str, str]:
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if api.web_origin and headers.get("origin") == api.web_origin:
        return {"Access-Control-Allow-Origin": api.web_origin, "Vary": "Origin"}
    return {}


def _reply(event: dict[str, Any], api: ApiSettings, status: HTTPStatus, message: str) -> dict[str, Any]:
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": "application/json", **cors_headers(event, api)},
        "body": json.dumps({"message": message}),
        "isBase64Encoded": False,
    }


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/plain") or media.endswith("+json")


def rejected(event: dict[str, Any], api: ApiSettings) -> dict[str, Any] | None:
    """A 413 proxy response when the body exceeds ``api.api_max_body_bytes``, a 415 when a body comes
    with a media type other than JSON (a missing Content-Type is taken as JSON), else None."""
    limit = api.api_max_body_bytes
    if body_size(event) > limit:
        return _reply(
            event, api, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the request body exceeds {limit} bytes"
        )
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type")
    if event.get("body") and content_type and not _is_json(content_type):
        return _reply(
            event, api, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the request body must be application/json"
        )
    if not _utf8(event):
        return _reply(event, api, HTTPStatus.BAD_REQUEST, "the request body is not UTF-8 text")
    return None


def _utf8(event: dict[str, Any]) -> bool:
    if not event.get("isBase64Encoded") or not event.get("body"):
        return True
    try:
        base64.b64decode(str(event["body"])).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return True
