"""A local server speaking the SageMaker LMI container contract, backed by the in-process model.

- ``GET /ping`` → 200 once the model is loaded, 503 while loading (or after a failed load).
- ``POST /invocations`` with ``{"inputs": str, "parameters": {...}}`` → ``{"generated_text": str}``;
  with ``{"messages": [...], ...}`` → an OpenAI-style ``chat.completion`` (the model's chat template
  is applied here, as LMI does). 400 on bad JSON or fields, 413 over the body cap, 503 while loading.

Binds to loopback by default. ``python -m inference.local_server --port 8080``.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from pydantic import ValidationError

from inference.protocol import BadRequest, parse_chat, parse_text
from llm_twin.llm.local_model import Completion
from llm_twin.llm.ports import GenerationParams
from llm_twin.prompts import chat_template

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_MAX_BODY_BYTES = 1_000_000


class ServedModel(Protocol):
    model_name: str

    @property
    def loaded(self) -> bool: ...

    def load(self) -> None: ...

    def complete(self, prompt: str, params: GenerationParams | None = None) -> Completion: ...


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message, "code": status})

    def do_GET(self) -> None:
        if self.path != "/ping":
            return self._error(HTTPStatus.NOT_FOUND, f"no route GET {self.path}")
        if self.server.model.loaded:
            return self._send(HTTPStatus.OK, {"status": "healthy"})
        return self._error(HTTPStatus.SERVICE_UNAVAILABLE, self.server.load_error or "model loading")

    def do_POST(self) -> None:
        if self.path != "/invocations":
            self.close_connection = True
            return self._error(HTTPStatus.NOT_FOUND, f"no route POST {self.path}")
        body = self._read_body()
        if body is None:
            return
        if not self.server.model.loaded:
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE, self.server.load_error or "model loading")
        try:
            payload = json.loads(body)
            if isinstance(payload, dict) and "messages" in payload:
                return self._send(HTTPStatus.OK, self._chat(payload))
            return self._send(HTTPStatus.OK, self._text(payload))
        except (ValueError, BadRequest, ValidationError) as exc:  # JSONDecodeError is a ValueError
            return self._error(HTTPStatus.BAD_REQUEST, _describe(exc))
        except Exception as exc:
            log.exception("generation failed")
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"generation failed: {type(exc).__name__}")

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

    def _text(self, payload: Any) -> dict[str, Any]:
        prompt, params = parse_text(payload)
        return {"generated_text": self.server.model.complete(prompt, params).text}

    def _chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        messages, params = parse_chat(payload)
        model = self.server.model
        done = model.complete(chat_template.render(messages), params)
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: ServedModel, max_body_bytes: int) -> None:
        super().__init__(address, _Handler)
        self.model = model
        self.max_body_bytes = max_body_bytes
        self.load_error: str | None = None


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

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=0.1)  # the loader may still be busy: it is a daemon thread

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
