"""The API on 127.0.0.1 as API Gateway would front it: API key and body cap enforced here, then each
request becomes a REST proxy event for the same ``lambdas/api/handler.handler``; the web page is
served from a static folder.

    with LocalApiServer(settings, port=0, api_key="k") as server:
        requests.get(f"{server.url}/health")
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any

from llm_twin.api.app import API_KEY_HEADER, PUBLIC_PATHS, get_app, openapi_json
from llm_twin.api.config import ApiSettings
from llm_twin.api.events import RouteTemplate, proxy_event, response_parts
from llm_twin.api.services import RagBackend, Services, default_rag, use_services
from llm_twin.api.starter import LocalCollectionStarter, RunWorkflow
from llm_twin.settings import Settings
from llm_twin.workflows.lambda_invoke import LambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
API_TIMEOUT_S = 29.0  # API Gateway's integration timeout
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_FOUND_PAGE = b"<!doctype html><title>Not found</title><h1>404</h1><p>No web page is installed.</p>\n"


def default_web_root() -> Path:
    return Path(str(files("llm_twin"))) / "web"


def _lambda_handler() -> Handler:
    from lambdas.api.handler import handler

    return handler


class LocalApiServer:
    def __init__(
        self,
        settings: Settings,
        host: str = DEFAULT_HOST,
        port: int = 0,
        api_key: str | None = None,
        *,
        web_root: Path | None = None,
        rag_factory: Callable[[Settings], RagBackend] = default_rag,
        on_change: Callable[[], None] | None = None,
        handler: Handler | None = None,
        run_collection: RunWorkflow | None = None,
    ) -> None:
        """``rag_factory`` builds the RAG service and ``run_collection`` runs a
        collection (default: the ASL locally); tests pass fakes. ``on_change`` runs (in one
        background worker) after each collection run and each successful mutating request: the CLI
        delivers the stream to the index and saves the snapshot there."""
        self.settings = settings
        self.api = ApiSettings()
        self.api_key = api_key or self.api.api_key or secrets.token_urlsafe(24)
        self.web_root = web_root or default_web_root()
        self._on_change = on_change
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-on-change")
        self.starter = LocalCollectionStarter(
            settings, on_finished=lambda _run_id: self.changed(), run=run_collection
        )
        self.services = Services(settings, self.starter, rag_factory=rag_factory)
        self._handler = handler
        self._invoke_lock = threading.Lock()  # one "Lambda instance": the resolver is not thread-safe
        self._address = (host, port)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._services_cm: Any = None
        self.templates: list[RouteTemplate] = []

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalApiServer:
        document = json.loads(openapi_json(get_app(self.api)))
        self.templates = [RouteTemplate.of(path) for path in document.get("paths", {})]
        self._services_cm = use_services(self.services)
        self._services_cm.__enter__()
        self._httpd = ThreadingHTTPServer(self._address, _request_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="llm-twin-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self.starter.wait(timeout=60)
        self._worker.shutdown(wait=True)
        if self._services_cm is not None:
            self._services_cm.__exit__(None, None, None)
            self._services_cm = None

    def __enter__(self) -> LocalApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what the request handler calls ----------------------------------------------------------
    def changed(self) -> None:
        if self._on_change is not None:
            self._worker.submit(self._on_change)

    def key_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.api_key.encode())

    def needs_key(self, method: str, path: str) -> bool:
        return method != "OPTIONS" and path not in PUBLIC_PATHS  # CORS preflights carry no key

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        handler = self._handler or _lambda_handler()
        context = LambdaContext(
            function_name="llm-twin-api",
            invoked_function_arn=f"arn:aws:lambda:{self.settings.region}:000000000000:function:llm-twin-api",
            aws_request_id=event["requestContext"]["requestId"],
            _deadline=time.monotonic() + API_TIMEOUT_S,
        )
        with self._invoke_lock:
            result = handler(event, context)
        if event["httpMethod"] in MUTATING and int(result.get("statusCode", 500)) < 300:
            self.changed()
        return result

    def static_file(self, path: str) -> Path | None:
        """The web page file for a GET of ``path``: ``/`` is index.html; only files inside the root."""
        if path == "/":
            path = "/index.html"
        root = self.web_root.resolve()
        candidate = (root / path.lstrip("/")).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
        return None


def _request_handler(server: LocalApiServer) -> type[BaseHTTPRequestHandler]:
    class ApiRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "llm-twin-local-api"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the handler logs requests
            return None

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, message: str) -> None:
            body = json.dumps({"message": message}).encode()
            self._send(status, [("Content-Type", "application/json")], body)

        def _read_body(self) -> bytes | None:
            """The body, or None after answering 411/413/400 (the connection is then closed)."""
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                self._json(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
                return None
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                self._json(HTTPStatus.BAD_REQUEST, "invalid Content-Length")
                return None
            if length > server.api.api_max_body_bytes:
                self.close_connection = True  # do not read (or keep) the oversized body
                self._json(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"the request body exceeds {server.api.api_max_body_bytes} bytes",
                )
                return None
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            path = self.path.split("?", 1)[0]
            if self.command in ("GET", "HEAD"):
                static = server.static_file(path)
                if static is not None:
                    kind = mimetypes.guess_type(static.name)[0] or "application/octet-stream"
                    self._send(HTTPStatus.OK, [("Content-Type", kind)], static.read_bytes())
                    return
                if path == "/":
                    self._send(HTTPStatus.NOT_FOUND, [("Content-Type", "text/html")], NOT_FOUND_PAGE)
                    return
            body = self._read_body()
            if body is None:
                return
            if server.needs_key(self.command, path) and not server.key_ok(self.headers.get(API_KEY_HEADER)):
                self._json(HTTPStatus.FORBIDDEN, "Forbidden")  # API Gateway's answer, word for word
                return
            event = proxy_event(
                self.command,
                self.path,
                self.headers.items(),
                body,
                source_ip=self.client_address[0],
                templates=server.templates,
            )
            try:
                result = server.invoke(event)
            except Exception:  # the Lambda crashed: API Gateway answers 502
                self._json(HTTPStatus.BAD_GATEWAY, "Internal server error")
                return
            self._send(*response_parts(result))

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_"):  # every method (TRACE, QUERY...) reaches the API, as on API Gateway
                return self._handle
            raise AttributeError(name)

    return ApiRequestHandler


def serve(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """``llm-twin serve``: the local AWS, the API and the web page until Ctrl-C. Every change reaches
    the vector index (stream -> feature handler) and the warehouse snapshot."""
    from llm_twin.cli.session import local_session
    from llm_twin.local.llm import local_llm

    with local_llm(settings) as settings, local_session(settings, mutating=True) as session:
        lock = threading.Lock()

        def sync() -> None:
            with lock:
                session.aws.save_snapshot()
                session.sync_features()

        with LocalApiServer(session.settings, host, port, on_change=sync) as server:
            configured = server.api.api_key is not None
            key = "from LLM_TWIN_API_KEY" if configured else server.api_key
            print(f"llm-twin API and web page on {server.url}/  (x-api-key: {key})", flush=True)
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                print("stopping", flush=True)
    return 0
