"""The local LMI-protocol server with the real SmolLM2, and the LMI client against it (loopback only)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from inference.local_server import LocalLmiServer
from llm_twin.llm.lmi import HttpTransport, LmiChatModel
from llm_twin.llm.local_model import GenerationCancelled, LocalChatModel
from llm_twin.llm.ports import ChatMessage, GenerationParams
from llm_twin.prompts import chat_template
from llm_twin.settings import Settings

pytestmark = pytest.mark.slow

QUESTION = [ChatMessage(role="user", content="What is the capital of France?")]


@pytest.fixture(scope="module")
def server(smollm2: LocalChatModel) -> Iterator[LocalLmiServer]:
    with LocalLmiServer(smollm2, max_body_bytes=10_000) as running:
        running.wait_ready(timeout=120)
        yield running


def post(server: LocalLmiServer, body: object, **kwargs: object) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{server.url}/invocations", data=data, timeout=60, **kwargs)  # type: ignore[arg-type]


def test_ping(server: LocalLmiServer) -> None:
    response = requests.get(f"{server.url}/ping", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_inputs_body(server: LocalLmiServer) -> None:
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    response = post(server, {"inputs": prompt, "parameters": {"max_new_tokens": 8, "do_sample": False}})
    assert response.status_code == 200
    assert set(response.json()) == {"generated_text"}
    assert "Paris" in response.json()["generated_text"]


def test_messages_body(server: LocalLmiServer) -> None:
    body = {"messages": [m.model_dump() for m in QUESTION], "max_tokens": 8, "temperature": 0}
    answer = post(server, body).json()
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    (choice,) = answer["choices"]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    assert "Paris" in choice["message"]["content"]
    assert choice["finish_reason"] in {"stop", "length"}
    usage = answer["usage"]
    assert 0 < usage["completion_tokens"] <= 8 and usage["prompt_tokens"] > 10
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_stop_and_length(server: LocalLmiServer) -> None:
    body = {
        "messages": [{"role": "user", "content": "Count from 1 to 9."}],
        "max_tokens": 8,
        "temperature": 0,
    }
    stopped = post(server, {**body, "stop": ["2"]}).json()["choices"][0]
    assert "2" not in stopped["message"]["content"] and stopped["finish_reason"] == "stop"
    cut = post(server, {**body, "max_tokens": 3}).json()
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 3


def test_repetition_penalty_breaks_loops(server: LocalLmiServer) -> None:
    loop = "The cat sat on the mat. " * 3  # greedy decoding repeats the sentence once more

    def text(parameters: dict) -> str:
        body = {"inputs": loop.strip(), "parameters": {"max_new_tokens": 24, **parameters}}
        return post(server, body).json()["generated_text"]

    assert "cat sat on the mat" in text({})
    assert "cat sat on the mat" not in text({"repetition_penalty": 1.5})
    chat = {"messages": [{"role": "user", "content": loop}], "max_tokens": 8, "temperature": 0}
    assert post(server, {**chat, "repetition_penalty": 1.5}).status_code == 200  # the chat schema takes it
    assert post(server, {**chat, "repetition_penalty": 0.5}).status_code == 400


def test_sampling(server: LocalLmiServer) -> None:
    body = {
        "inputs": "Once upon a time",
        "parameters": {"max_new_tokens": 3, "temperature": 0.9, "top_p": 0.9},
    }
    response = post(server, body)
    assert response.status_code == 200 and response.json()["generated_text"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        ([1, 2], "JSON object"),
        ({"inputs": ""}, "inputs"),
        ({"inputs": "x", "parameters": {"max_new_tokens": 0}}, "max_new_tokens"),
        ({"inputs": "x", "parameters": {"beam_width": 4}}, "unsupported"),
        ({"inputs": "x", "parameters": {"do_sample": "yes"}}, "do_sample"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "role"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 5}, "temperature"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": True}, "stream"),
    ],
)
def test_bad_bodies_are_400(server: LocalLmiServer, body: object, needle: str) -> None:
    response = post(server, body)
    assert response.status_code == 400
    assert needle in response.json()["error"]


def test_body_cap_and_routes(server: LocalLmiServer) -> None:
    assert post(server, {"inputs": "x" * 20_000}).status_code == 413
    assert requests.get(f"{server.url}/nope", timeout=5).status_code == 404


def test_client_round_trip(server: LocalLmiServer) -> None:
    settings = Settings(lmi_url=server.url)
    chat = LmiChatModel(settings, HttpTransport(settings.lmi_url))
    generation = chat.generate(QUESTION, GenerationParams(max_new_tokens=8))
    assert "Paris" in generation.text
    assert generation.model == "smollm2-135m-instruct"
    assert generation.prompt_tokens and generation.completion_tokens
    assert generation.text == server.model.generate(QUESTION, GenerationParams(max_new_tokens=8)).text


class _SlowModel:
    model_name = "slow"
    loaded = False

    def __init__(self) -> None:
        self.release = threading.Event()

    def load(self) -> None:
        self.release.wait(30)

    def complete(self, prompt: str, params: object = None, cancelled: object = None) -> object:
        raise AssertionError("not loaded")


def test_503_while_loading() -> None:
    model = _SlowModel()
    with LocalLmiServer(model) as loading:  # type: ignore[arg-type]
        assert requests.get(f"{loading.url}/ping", timeout=5).status_code == 503
        response = post(loading, {"inputs": "x"})
        assert response.status_code == 503 and response.headers["Retry-After"]
        model.release.set()  # stop() waits (bounded) for a load still running


STORY = [ChatMessage(role="user", content="Write a very long story about a dragon.")]  # 300+ tokens


def test_cancelled_generation_stops_at_the_next_token(smollm2: LocalChatModel) -> None:
    checks = itertools.count()
    with pytest.raises(GenerationCancelled) as cancelled:
        smollm2.complete(
            chat_template.render(STORY),
            GenerationParams(max_new_tokens=300),
            cancelled=lambda: next(checks) >= 6,  # once before generating, then after every token
        )
    assert 1 <= cancelled.value.completion_tokens <= 6
    assert smollm2._generate_lock.acquire(blocking=False)  # the model is free at once
    smollm2._generate_lock.release()


def test_a_queued_call_gives_up_when_cancelled(smollm2: LocalChatModel) -> None:
    smollm2.load()
    gone = threading.Event()
    outcome: list[BaseException] = []

    def queued() -> None:
        try:
            smollm2.complete("Hello", GenerationParams(max_new_tokens=300), cancelled=gone.is_set)
        except BaseException as exc:
            outcome.append(exc)

    with smollm2._generate_lock:  # another generation holds the model
        waiter = threading.Thread(target=queued)
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive() and not outcome
        gone.set()
        waiter.join(2)
    assert not waiter.is_alive()
    (error,) = outcome
    assert isinstance(error, GenerationCancelled) and error.completion_tokens == 0


EXIT_SCRIPT = """
import threading, time
from llm_twin.errors import TransientLlmError
from llm_twin.llm.lmi import HttpTransport, LmiChatModel, make_chat_model
from llm_twin.llm.ports import ChatMessage, GenerationParams
from llm_twin.local.llm import local_llm
from llm_twin.settings import Settings

story = [ChatMessage(role="user", content="Write a very long story about a dragon.")]
cap = GenerationParams(max_new_tokens=2000)
answers = []
with local_llm(Settings()) as settings:  # what `llm-twin dataset build` does around its calls
    try:  # budget 0.5 + 2000 / 1000 s: the client gives up, the server cancels
        make_chat_model(settings).generate(story, cap)
        print("answered")
    except TransientLlmError:
        print("abandoned")

    def patient():
        try:
            LmiChatModel(settings, HttpTransport(settings.lmi_url, timeout_s=300)).generate(story, cap)
        except Exception as exc:
            answers.append(str(exc))

    client = threading.Thread(target=patient)
    client.start()
    time.sleep(2)  # generating when the server stops
    began = time.monotonic()
print("stopped in", round(time.monotonic() - began, 1))
client.join(30)
print("client:", answers)
"""


def test_a_process_that_stopped_the_server_mid_generation_exits_cleanly(
    base_model: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "LLM_TWIN_HOME": str(tmp_path),
        "LLM_TWIN_LLM": "lmi-local",
        "LLM_TWIN_LOCAL_MODEL_DIR": str(base_model),
        "LLM_TWIN_LMI_TIMEOUT_S": "0.5",
        "LLM_TWIN_LMI_LOCAL_MIN_TOKENS_PER_S": "1000",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT],
        cwd=Path(__file__).parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]  # before: -6 (SIGABRT) with torch still generating
    assert "Traceback" not in done.stderr and "terminate called" not in done.stderr, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "abandoned"
    assert float(lines[1].split()[-1]) < 10  # stop() cancelled the generation instead of waiting for it
    assert "503" in lines[2] and "server stopping" in lines[2]
