"""HTTP request -> API Gateway REST API (v1) Lambda proxy event, and the proxy response -> HTTP."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

LOCAL_STAGE = "local"
PROXY_RESOURCE = "/{proxy+}"


@dataclass(frozen=True)
class RouteTemplate:
    """An API Gateway resource such as ``/authors/{author_id}`` and the regex matching its paths."""

    resource: str
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, resource: str) -> RouteTemplate:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource))
        return cls(resource, re.compile(f"^{regex}$"))


def match_resource(path: str, templates: Iterable[RouteTemplate]) -> tuple[str, dict[str, str] | None]:
    """The resource and path parameters API Gateway would give ``path`` (greedy proxy when none fits)."""
    for template in templates:
        found = template.pattern.match(path)
        if found:
            return template.resource, ({k: unquote(v) for k, v in found.groupdict().items()} or None)
    return PROXY_RESOURCE, {"proxy": path.lstrip("/")}


def _multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value  # API Gateway keeps the last value in the single-value map
        multi.setdefault(key, []).append(value)
    return (single or None), (multi or None)


def _body(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def proxy_event(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    source_ip: str,
    templates: Iterable[RouteTemplate] = (),
    stage: str = LOCAL_STAGE,
) -> dict[str, Any]:
    """The event API Gateway sends a proxy-integrated Lambda for this request."""
    parts = urlsplit(target)
    path = unquote(parts.path) or "/"
    resource, path_parameters = match_resource(path, templates)
    header_map, multi_headers = _multi(headers)
    query, multi_query = _multi(parse_qsl(parts.query, keep_blank_values=True))
    text, is_base64 = _body(body)
    now = datetime.now(UTC)
    lowered = {k.lower(): v for k, v in (header_map or {}).items()}
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": header_map,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "extendedRequestId": request_id,
            "httpMethod": method.upper(),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent"),
                "apiKey": lowered.get("x-api-key"),
            },
            "path": path,  # as behind a custom domain without a base path (no stage prefix)
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(time.time() * 1000),
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def response_parts(result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes of a proxy integration response."""
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    seen = {name.lower() for name, _ in headers}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name.lower() not in seen:
            headers.extend((name, str(value)) for value in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(result.get("statusCode", 200)), headers, raw
