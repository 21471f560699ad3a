"""The local LMI server cancels generations nobody waits for, and stops cleanly (real threads and
sockets on 127.0.0.1; the model is a stand-in that decodes a "token" every 50 ms)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from inference.local_server import LocalLmiServer
from llm_twin.errors import TransientLlmError
from llm_twin.llm.lmi import TIMEOUT_HEADER, make_chat_model
from llm_twin.llm.local_model import Cancelled, Completion, GenerationCancelled
from llm_twin.llm.ports import ChatMessage, GenerationParams
from llm_twin.settings import Settings

TOKEN_S = 0.05
LONG = 4000  # tokens (the cap): 200 s of decoding unless cancelled
HELLO = [ChatMessage(role="user", content="Hi")]


@dataclass
class Run:
    max_tokens: int
    tokens: int = 0
    outcome: str = "running"
    done: threading.Event = field(default_factory=threading.Event)


class DecodingModel:
    """Implements the server's ``ServedModel`` like the weights would: one generation at a time, a token
    every ``TOKEN_S``, ``cancelled`` checked after each token (as the transformers stopping criterion
    does); ``ignore_cancel`` models a generation that cannot stop early."""

    model_name = "decoding"
    loaded = True

    def __init__(self, ignore_cancel: bool = False) -> None:
        self.ignore_cancel = ignore_cancel
        self.runs: list[Run] = []
        self._lock = threading.Lock()

    def load(self) -> None:
        pass

    def complete(
        self, prompt: str, params: GenerationParams | None = None, cancelled: Cancelled | None = None
    ) -> Completion:
        run = Run((params or GenerationParams()).max_new_tokens)
        self.runs.append(run)
        with self._lock:
            try:
                while run.tokens < run.max_tokens:
                    time.sleep(TOKEN_S)
                    run.tokens += 1
                    if cancelled is not None and cancelled() and not self.ignore_cancel:
                        run.outcome = "cancelled"
                        raise GenerationCancelled(run.tokens)
                run.outcome = "finished"
            finally:
                run.done.set()
        return Completion("tok " * run.tokens, 3, run.tokens, "length")


@pytest.fixture
def model() -> DecodingModel:
    return DecodingModel()


@pytest.fixture
def server(model: DecodingModel) -> Iterator[LocalLmiServer]:
    with LocalLmiServer(model) as running:
        running.wait_ready(5)
        yield running


def body(max_tokens: int) -> dict:
    return {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": max_tokens, "temperature": 0}


def post(server: LocalLmiServer, max_tokens: int, timeout: float, **headers: str) -> requests.Response:
    return requests.post(f"{server.url}/invocations", json=body(max_tokens), headers=headers, timeout=timeout)


def test_a_request_abandoned_by_its_client_frees_the_model(
    server: LocalLmiServer, model: DecodingModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="inference.local_server")
    with pytest.raises(requests.ReadTimeout):  # no timeout header: only the disconnect tells
        post(server, LONG, timeout=0.3)
    began = time.monotonic()
    answer = post(server, 5, timeout=10)
    assert answer.status_code == 200 and answer.json()["usage"]["completion_tokens"] == 5
    assert time.monotonic() - began < 3  # not queued behind 200 s of abandoned decoding
    abandoned, served = model.runs
    assert abandoned.done.wait(1) and abandoned.outcome == "cancelled" and abandoned.tokens < 40
    assert served.outcome == "finished"
    assert "generation cancelled (client gone)" in caplog.text


def test_the_client_timeout_header_cancels_at_the_deadline(
    server: LocalLmiServer, model: DecodingModel
) -> None:
    began = time.monotonic()
    answer = post(server, LONG, timeout=10, **{TIMEOUT_HEADER: "0.4"})
    assert answer.status_code == 504 and "0.4 s" in answer.json()["error"]
    assert 0.4 <= time.monotonic() - began < 3
    assert model.runs[0].outcome == "cancelled"
    assert post(server, 1, timeout=5, **{TIMEOUT_HEADER: "nope"}).status_code == 400


def test_the_lmi_client_times_out_and_the_next_call_is_served(
    server: LocalLmiServer, model: DecodingModel
) -> None:
    settings = Settings(
        llm="lmi-local", lmi_url=server.url, lmi_timeout_s=0.3, lmi_local_min_tokens_per_s=1e6
    )
    chat = make_chat_model(settings)
    with pytest.raises(TransientLlmError, match="no answer"):
        chat.generate(HELLO, GenerationParams(max_new_tokens=LONG))  # budget 0.4 s
    began = time.monotonic()
    assert chat.generate(HELLO, GenerationParams(max_new_tokens=5)).completion_tokens == 5
    assert time.monotonic() - began < 3
    assert model.runs[0].outcome == "cancelled"


def test_a_reply_to_a_client_that_left_is_dropped_quietly(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="inference.local_server")
    model = DecodingModel(ignore_cancel=True)
    with LocalLmiServer(model) as server:
        server.wait_ready(5)
        with pytest.raises(requests.ReadTimeout):
            post(server, 8, timeout=0.1)  # 0.4 s of decoding that cannot be cancelled
        assert model.runs[0].done.wait(5)
        raw = socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        request = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        payload = b'{"inputs": "x", "parameters": {"max_new_tokens": 8}}'
        raw.sendall(request + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        time.sleep(0.1)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        raw.close()  # a reset, not a FIN
        assert _wait_for(lambda: len(model.runs) == 2 and model.runs[1].done.is_set())
        time.sleep(0.2)
    assert caplog.text.count("left before its 200 reply") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err


def test_stop_cancels_generations_and_joins_request_threads(model: DecodingModel) -> None:
    server = LocalLmiServer(model).start()
    server.wait_ready(5)
    idle = requests.Session()
    assert idle.post(f"{server.url}/invocations", json=body(1), timeout=5).status_code == 200  # keep-alive
    answers: list[requests.Response] = []
    client = threading.Thread(target=lambda: answers.append(post(server, LONG, timeout=30)))
    client.start()
    assert _wait_for(lambda: len(model.runs) == 2)
    began = time.monotonic()
    server.stop(timeout=10)
    assert time.monotonic() - began < 2  # neither the generation nor the idle connection held it
    assert model.runs[1].outcome == "cancelled"
    assert not [t for t in threading.enumerate() if t.name == "lmi-request"]
    client.join(5)
    assert answers[0].status_code == 503 and "stopping" in answers[0].json()["error"]
    idle.close()


def _wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False
