"""A local server speaking the SageMaker LMI container contract, backed by the in-process model.

- ``GET /ping`` → 200 once the model is loaded, 503 while loading (or after a failed load).
- ``POST /invocations`` with ``{"inputs": str, "parameters": {...}}`` → ``{"generated_text": str}``;
  with ``{"messages": [...], ...}`` → an OpenAI-style ``chat.completion`` (the model's chat template
  is applied here, as LMI does). 400 on bad JSON or fields, 413 over the body cap, 503 while loading.

Binds to loopback by default. ``python -m inference.local_server --port 8080``.

Generation is cancellable: a request is abandoned when its client disconnects, when the timeout it
sent in ``X-Llm-Twin-Timeout-S`` (the LMI client's read timeout) passes (504), or when the server stops
(503). Its generation then stops at the next token, or before it starts when it is still queued behind
another (the model generates one request at a time), so nobody's work waits behind a generation nobody
waits for. ``stop()`` cancels in-flight generations and joins the request threads (bounded), so a
process can exit normally after using the server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import socket
import sys
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from pydantic import ValidationError

from inference.protocol import BadRequest, parse_chat, parse_text
from llm_twin.llm.lmi import TIMEOUT_HEADER
from llm_twin.llm.local_model import Cancelled, Completion, GenerationCancelled
from llm_twin.llm.ports import GenerationParams
from llm_twin.prompts import chat_template

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_MAX_BODY_BYTES = 1_000_000
STOP_TIMEOUT_S = 30.0  # stop() waits this long for cancelled generations (one forward pass) to end


class ServedModel(Protocol):
    model_name: str

    @property
    def loaded(self) -> bool: ...

    def load(self) -> None: ...

    def complete(
        self, prompt: str, params: GenerationParams | None = None, cancelled: Cancelled | None = None
    ) -> Completion:
        """Generate; once ``cancelled()`` is True, stop soon and raise ``GenerationCancelled``."""
        ...


def peer_closed(sock: socket.socket) -> bool:
    """True when the client has closed (or reset) its end of the connection. Never blocks."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False  # open, nothing sent: the client is waiting
    except OSError:
        return True


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        if not self.server.stopping.is_set() and peer_closed(self.connection):  # stop() shuts reads
            self.close_connection = True
            log.info("%s left before its %s reply: not sent", self.address_string(), status)
            return
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status == HTTPStatus.SERVICE_UNAVAILABLE:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError as exc:  # BrokenPipe / ConnectionReset: the client left meanwhile
            self.close_connection = True
            log.info("%s left before its %s reply: %s", self.address_string(), status, type(exc).__name__)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message, "code": status})

    def do_GET(self) -> None:
        if self.path != "/ping":
            return self._error(HTTPStatus.NOT_FOUND, f"no route GET {self.path}")
        if self.server.model.loaded:
            return self._send(HTTPStatus.OK, {"status": "healthy"})
        return self._error(HTTPStatus.SERVICE_UNAVAILABLE, self.server.load_error or "model loading")

    def do_POST(self) -> None:
        received = time.monotonic()
        if self.path != "/invocations":
            self.close_connection = True
            return self._error(HTTPStatus.NOT_FOUND, f"no route POST {self.path}")
        body = self._read_body()
        if body is None:
            return
        timeout = self._client_timeout()
        if timeout is None:
            return
        if not self.server.model.loaded:
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE, self.server.load_error or "model loading")
        watch = _Watch(self.server.stopping, self.connection, received + timeout)
        try:
            payload = json.loads(body)
            if isinstance(payload, dict) and "messages" in payload:
                return self._send(HTTPStatus.OK, self._chat(payload, watch))
            return self._send(HTTPStatus.OK, self._text(payload, watch))
        except GenerationCancelled as exc:
            return self._cancelled(exc, watch, timeout, time.monotonic() - received)
        except (ValueError, BadRequest, ValidationError) as exc:  # JSONDecodeError is a ValueError
            return self._error(HTTPStatus.BAD_REQUEST, _describe(exc))
        except Exception as exc:
            log.exception("generation failed")
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"generation failed: {type(exc).__name__}")

    def _client_timeout(self) -> float | None:
        """The client's read timeout from its header (inf without one); None after answering 400."""
        raw = self.headers.get(TIMEOUT_HEADER)
        if raw is None:
            return math.inf
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not value > 0:  # also NaN
            self._error(HTTPStatus.BAD_REQUEST, f"{TIMEOUT_HEADER} must be a positive number of seconds")
            return None
        return value

    def _cancelled(self, exc: GenerationCancelled, watch: _Watch, timeout: float, seconds: float) -> None:
        reason = watch.reason or "cancelled"
        self.close_connection = True
        log.info(
            "%s: generation cancelled (%s) after %d tokens, %.1f s",
            self.address_string(),
            reason,
            exc.completion_tokens,
            seconds,
        )
        if reason == _Watch.GONE:
            return None  # nobody to answer
        if reason == _Watch.DEADLINE:
            message = f"generation cancelled: no answer in the client's {timeout:g} s"
            return self._error(HTTPStatus.GATEWAY_TIMEOUT, message)
        return self._error(HTTPStatus.SERVICE_UNAVAILABLE, f"{reason}: generation cancelled")

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, "a Content-Length header is required")
            return None
        if length > self.server.max_body_bytes:
            self.close_connection = True  # the body is left unread
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {self.server.max_body_bytes} bytes")
            return None
        return self.rfile.read(length)

    def _text(self, payload: Any, watch: _Watch) -> dict[str, Any]:
        prompt, params = parse_text(payload)
        return {"generated_text": self.server.model.complete(prompt, params, watch).text}

    def _chat(self, payload: dict[str, Any], watch: _Watch) -> dict[str, Any]:
        messages, params = parse_chat(payload)
        model = self.server.model
        done = model.complete(chat_template.render(messages), params, watch)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": done.text},
                    "logprobs": None,
                    "finish_reason": done.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": done.prompt_tokens,
                "completion_tokens": done.completion_tokens,
                "total_tokens": done.prompt_tokens + done.completion_tokens,
            },
        }


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, json.JSONDecodeError):
        return f"body is not valid JSON: {exc.msg}"
    return str(exc)


class _Watch:
    """The ``cancelled`` check of one request: the server stopping, the client's deadline, the client
    gone (checked in that order; the first reason sticks)."""

    STOPPING, DEADLINE, GONE = "server stopping", "client timeout passed", "client gone"

    def __init__(self, stopping: threading.Event, sock: socket.socket, deadline: float) -> None:
        self._stopping = stopping
        self._sock = sock
        self._deadline = deadline
        self.reason: str | None = None

    def __call__(self) -> bool:
        if self.reason is None:
            if self._stopping.is_set():
                self.reason = self.STOPPING
            elif time.monotonic() > self._deadline:
                self.reason = self.DEADLINE
            elif peer_closed(self._sock):
                self.reason = self.GONE
        return self.reason is not None


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a thread that outlives stop()'s bounded join must not block exit
    block_on_close = False  # stop() joins the request threads itself, with a bound

    def __init__(self, address: tuple[str, int], model: ServedModel, max_body_bytes: int) -> None:
        super().__init__(address, _Handler)
        self.model = model
        self.max_body_bytes = max_body_bytes
        self.load_error: str | None = None
        self.stopping = threading.Event()
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.stopping.is_set():
            self.shutdown_request(request)
            return
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), name="lmi-request", daemon=True
        )
        with self._connections_lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client left mid-exchange: no traceback
            log.info("%s disconnected: %s", client_address[0], type(sys.exc_info()[1]).__name__)
            return
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> list[threading.Thread]:
        """Cancel every request, end idle keep-alive connections and join their threads within
        ``timeout`` seconds; returns the threads still running."""
        self.stopping.set()
        with self._connections_lock:
            connections = dict(self._connections)
        for sock in connections.values():
            with contextlib.suppress(OSError):  # an idle handler reads EOF; replies can still be written
                sock.shutdown(socket.SHUT_RD)
        deadline = time.monotonic() + timeout
        for thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t for t in connections if t.is_alive()]


class LocalLmiServer:
    """Serve ``model`` over the LMI protocol on ``host:port`` (port 0 picks a free one).

    ``start()`` returns at once and loads the model in the background (``/ping`` answers 503 until
    it is ready); ``wait_ready()`` blocks until then. Use as a context manager.
    """

    def __init__(
        self,
        model: ServedModel,
        host: str = LOOPBACK,
        port: int = 0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.model = model
        self._address = (host, port)
        self._max_body_bytes = max_body_bytes
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalLmiServer:
        self._server = _Server(self._address, self.model, self._max_body_bytes)
        serve = threading.Thread(target=self._server.serve_forever, name="lmi-serve", daemon=True)
        load = threading.Thread(target=self._load, name="lmi-load", daemon=True)
        self._threads = [serve, load]
        serve.start()
        load.start()
        return self

    def _load(self) -> None:
        assert self._server is not None
        try:
            self.model.load()
        except Exception as exc:
            log.exception("model load failed")
            self._server.load_error = f"model load failed: {exc}"
        finally:
            self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> None:
        if not self._ready.wait(timeout):
            raise TimeoutError("model not loaded in time")
        if self._server is not None and self._server.load_error:
            raise RuntimeError(self._server.load_error)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop accepting, cancel in-flight generations (their clients get 503) and wait up to
        ``timeout`` seconds for the request threads and a model load still running."""
        deadline = time.monotonic() + timeout
        server, self._server = self._server, None
        if server is not None:
            server.stopping.set()  # before shutdown(): a connection accepted meanwhile is closed
            server.shutdown()
            left = server.close_connections(timeout)
            server.server_close()
            if left:
                log.warning("stop: %d request thread(s) still running after %.0f s", len(left), timeout)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():  # a model load cannot be interrupted
                log.warning("stop: %s still running after %.0f s", thread.name, timeout)
        self._threads = []

    def __enter__(self) -> LocalLmiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    from llm_twin.llm.local_model import get_local_model
    from llm_twin.settings import get_settings

    parser = argparse.ArgumentParser(prog="serve-llm", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    server = LocalLmiServer(
        get_local_model(settings), args.host, args.port, max_body_bytes=settings.local_max_body_bytes
    )
    with server:
        log.info("LMI protocol server on %s (loading the model...)", server.url)
        try:
            server.wait_ready()
            log.info("model %s ready", server.model.model_name)
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
