"""The single place every adapter gets its boto3 clients from.

Clients are created lazily, cached per (service, region, endpoint) and shared across threads (boto3
clients are thread-safe; creating them is not, hence the lock). On AWS ``settings.aws_endpoint_url``
is None and botocore picks the real endpoint; locally it points at moto's server.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_twin.settings import Settings

MAX_ATTEMPTS = 5  # botocore "standard" retry mode: exponential backoff with jitter, throttling aware

_lock = threading.Lock()
# (kind, service, region, endpoint, connect timeout, read timeout, retries)
_clients: dict[tuple[Any, ...], Any] = {}


def _config(
    connect_timeout: float | None = None, read_timeout: float | None = None, max_retries: int | None = None
) -> Any:
    """botocore's defaults (60 s timeouts) unless a caller on a request path asks for shorter ones."""
    from botocore.config import Config

    timeouts = {
        name: value
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout))
        if value is not None
    }
    retries = MAX_ATTEMPTS if max_retries is None else max_retries  # botocore: retries after the 1st try
    return Config(retries={"mode": "standard", "max_attempts": retries}, **timeouts)


def _session(settings: Settings) -> Any:
    import boto3

    return boto3.session.Session(region_name=settings.region)


def aws_client(
    service: str,
    settings: Settings,
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_retries: int | None = None,
) -> Any:
    """A (cached, thread-safe) boto3 client for ``service`` with the endpoint and region from ``settings``.

    ``connect_timeout``/``read_timeout`` (seconds) and ``max_retries`` (botocore's ``max_attempts``, which
    counts retries after the first request) override botocore's 60 s and :data:`MAX_ATTEMPTS` for callers
    with a latency budget (the Bedrock reranker); each distinct combination is its own cached client."""
    key = (
        "client",
        service,
        settings.region,
        settings.aws_endpoint_url,
        connect_timeout,
        read_timeout,
        max_retries,
    )
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _session(settings).client(
                service,
                region_name=settings.region,
                endpoint_url=settings.aws_endpoint_url,
                config=_config(connect_timeout, read_timeout, max_retries),
            )
        return client


def aws_resource(service: str, settings: Settings) -> Any:
    """A new boto3 resource for ``service`` (not cached: resources are not thread-safe)."""
    with _lock:
        session = _session(settings)
    return session.resource(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=_config()
    )


def clear_clients(endpoint_url: str | None = None) -> None:
    """Forget cached clients (all, or those bound to one endpoint, e.g. a stopped moto server)."""
    with _lock:
        for key in [k for k in _clients if endpoint_url is None or k[3] == endpoint_url]:
            del _clients[key]
