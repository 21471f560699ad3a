"""A loopback HTTP server with a route table, and settings that allow 127.0.0.1 only."""

from __future__ import annotations

import ssl
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from llm_twin.crawling.fetcher import Fetcher
from llm_twin.settings import Settings

RawHandler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Reply:
    body: bytes | str = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        body = self.body.encode() if isinstance(self.body, str) else self.body
        handler.send_response(self.status)
        if self.content_type:
            handler.send_header("Content-Type", self.content_type)
        for name, value in self.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)


Route = Reply | RawHandler | list[Reply]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LocalServer:
    """``server.route("/path", Reply(...))`` (the query string is ignored).

    A list of replies is served in order (the last repeats); a callable gets the request handler and
    writes the response itself. ``hits`` counts requests per path."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer._dispatch(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, reply: Route | str | bytes, **kwargs: object) -> str:
        if isinstance(reply, str | bytes):
            reply = Reply(reply, **kwargs)  # type: ignore[arg-type]
        self.routes[path] = reply
        return self.url(path)

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path  # routes ignore the query string
        with self._lock:
            self.hits[path] += 1
            route = self.routes.get(path)
            if isinstance(route, list):
                route = route.pop(0) if len(route) > 1 else route[0]
        try:
            if route is None:
                Reply(b"not found", status=404, content_type="text/plain").send(handler)
            elif isinstance(route, Reply):
                route.send(handler)
            else:
                route(handler)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer().start()
    try:
        yield srv
    finally:
        srv.close()


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "crawl_allow_hosts": ["127.0.0.1"],
        "crawl_backoff_s": 0,
        "crawl_timeout_s": 2.0,
        "crawl_max_retries": 2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def fetcher(settings: Settings, sleeps: SleepRecorder) -> Fetcher:
    return Fetcher(settings, sleep=sleeps)
