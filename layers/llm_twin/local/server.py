"""moto's threaded server on a free loopback port, and the process environment that points at it."""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Mapping
from typing import Any

DUMMY_CREDENTIALS = "testing"

# Variables that would send clients elsewhere or make botocore prefer another identity.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def local_environment(endpoint_url: str, region: str, table_name: str, home: str) -> dict[str, str | None]:
    """The variables a boto3/pynamodb client (and a handler building its own ``Settings()``) needs to
    reach moto; ``None`` means unset. Service-specific ``AWS_ENDPOINT_URL_*`` overrides are unset too."""
    env: dict[str, str | None] = dict.fromkeys(_CLEARED)
    env.update({k: None for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")})
    env.update(
        {
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS,
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # else DynamoDB Streams calls 404 on moto
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,  # the user's ~/.aws must not leak into the local stack
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "LLM_TWIN_AWS_ENDPOINT_URL": endpoint_url,
            "LLM_TWIN_REGION": region,
            "LLM_TWIN_TABLE_NAME": table_name,
            "LLM_TWIN_HOME": home,
        }
    )
    return env


def apply_environment(changes: Mapping[str, str | None]) -> dict[str, str | None]:
    """Apply ``changes`` to ``os.environ``; returns what is needed to undo them."""
    previous = {name: os.environ.get(name) for name in changes}
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return previous


class MotoServer:
    """moto's ``ThreadedMotoServer`` bound to ``host`` on a free port, quiet, quick to stop."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server: Any = None
        self._werkzeug_level: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the moto server is not running")
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> str:
        from moto.server import ThreadedMotoServer

        class _Server(ThreadedMotoServer):
            # Same as moto's, but the serve loop polls every 50 ms (not 500 ms): stop() returns fast.
            def _server_entry(self) -> None:
                from moto.moto_server.werkzeug_app import (
                    DomainDispatcherApplication,
                    MotoRequestHandler,
                    create_backend_app,
                )
                from werkzeug.serving import make_server

                app = DomainDispatcherApplication(create_backend_app)
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
                )
                self._server_ready_event.set()
                self._server.serve_forever(poll_interval=0.05)

        werkzeug = logging.getLogger("werkzeug")
        self._werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.WARNING)  # no access log line per request
        self._server = _Server(ip_address=self._host, port=0, verbose=False)
        self._server.start()
        return self.endpoint_url

    def post(self, path: str, body: bytes = b"") -> bytes:
        """POST to moto's own API (``/moto-api/reset``, ``/moto-api/config``)."""
        request = urllib.request.Request(self.endpoint_url + path, data=body, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback, our server
            return response.read()

    def reset(self) -> None:
        """Forget every resource: moto's backends are process-wide, shared by all its servers."""
        self.post("/moto-api/reset")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._werkzeug_level is not None:
            logging.getLogger("werkzeug").setLevel(self._werkzeug_level)
            self._werkzeug_level = None
