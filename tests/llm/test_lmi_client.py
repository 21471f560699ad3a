"""The LMI client: request shape and error mapping against loopback stubs and moto (no model)."""

from __future__ import annotations

import base64
import json
import socket

import boto3
import pytest
import requests
from botocore.config import Config
from moto import mock_aws

from llm_twin.errors import LlmError, TransientLlmError
from llm_twin.llm.bedrock import BedrockChatModel
from llm_twin.llm.lmi import TIMEOUT_HEADER, HttpTransport, LmiChatModel, SageMakerTransport, make_chat_model
from llm_twin.llm.ports import ChatMessage, ChatModel, GenerationParams
from llm_twin.settings import Settings

from .stub import StubServer

MESSAGES = [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi?")]
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "twin-v1",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23},
}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


def http_model(url: str) -> LmiChatModel:
    return LmiChatModel(Settings(), HttpTransport(url, timeout_s=5))


def test_http_request_and_answer() -> None:
    with StubServer().reply(200, COMPLETION) as stub:
        generation = http_model(stub.url).generate(
            MESSAGES, GenerationParams(max_new_tokens=7, stop=["\n\n"])
        )
    assert (generation.text, generation.model) == ("Hello.", "twin-v1")
    assert (generation.prompt_tokens, generation.completion_tokens) == (20, 3)
    (request,) = stub.requests
    assert request.path == "/invocations"
    assert request.json() == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
        "max_tokens": 7,
        "temperature": 0.0,
        "top_p": 1.0,
        "stop": ["\n\n"],
    }


def test_repetition_penalty_is_sent_only_when_set() -> None:
    with StubServer().reply(200, COMPLETION).reply(200, COMPLETION) as stub:
        http_model(stub.url).generate(MESSAGES, GenerationParams(repetition_penalty=1.2))
        http_model(stub.url).generate(MESSAGES, GenerationParams())
    assert stub.requests[0].json()["repetition_penalty"] == 1.2
    assert "repetition_penalty" not in stub.requests[1].json()  # 1.0: the server's default applies


def test_generated_text_answer_is_accepted() -> None:
    with StubServer().reply(200, {"generated_text": "Plain."}) as stub:
        generation = http_model(stub.url).generate(MESSAGES)
    assert generation.text == "Plain." and generation.model == Settings().lmi_model_name


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (503, {"error": "model loading"}, TransientLlmError),
        (429, {"error": "throttled"}, TransientLlmError),
        (500, {"error": "boom"}, TransientLlmError),
        (400, {"error": "bad field"}, LlmError),
        (424, {"error": "failed dependency"}, LlmError),
        (200, b"<html>not json", LlmError),
        (200, {"unexpected": True}, LlmError),
    ],
)
def test_http_error_mapping(status: int, body: object, error: type[LlmError]) -> None:
    with StubServer().reply(status, body) as stub, pytest.raises(error) as raised:
        http_model(stub.url).generate(MESSAGES)
    assert type(raised.value) is error
    if status != 200:
        assert str(status) in str(raised.value)


def test_http_unreachable_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once closed
    with pytest.raises(TransientLlmError):
        http_model(f"http://127.0.0.1:{port}").generate(MESSAGES)


@mock_aws
def test_sagemaker_request_shape_with_moto(aws_env: None) -> None:
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"results": [{"Body": json.dumps(COMPLETION), "ContentType": "application/json"}]},
        timeout=5,
    )
    settings = Settings(lmi_endpoint_name="twin-endpoint", region="us-east-1")
    generation = LmiChatModel(settings, SageMakerTransport(settings)).generate(MESSAGES)
    assert generation.text == "Hello." and generation.completion_tokens == 3

    from moto.sagemakerruntime.models import sagemakerruntime_backends

    # moto 5.2.5 records Accept and Body only (and files them under endpoint None): the path and
    # Content-Type are asserted against the loopback stub below.
    (unique_repr,) = [
        key
        for account in sagemakerruntime_backends.values()
        for b in account.values()
        for r in b.results.values()
        for key in r
    ]
    sent = json.loads(base64.b64decode(unique_repr))
    assert sent["Accept"] == "application/json"
    assert json.loads(sent["Body"])["messages"][1] == {"role": "user", "content": "Hi?"}


def sagemaker_model(url: str) -> LmiChatModel:
    settings = Settings(lmi_endpoint_name="twin", aws_endpoint_url=url, lmi_timeout_s=5)
    return LmiChatModel(settings, SageMakerTransport(settings))


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"__type": "ThrottlingException", "message": "slow down"}, TransientLlmError),
        (503, {"__type": "ServiceUnavailable", "message": "later"}, TransientLlmError),
        (424, {"ErrorCode": "ModelError", "OriginalStatusCode": 500, "Message": "oom"}, TransientLlmError),
        (424, {"ErrorCode": "ModelError", "OriginalStatusCode": 400, "Message": "bad"}, LlmError),
        (400, {"__type": "ValidationError", "message": "no such endpoint"}, LlmError),
    ],
)
def test_sagemaker_error_mapping(aws_env: None, status: int, body: dict[str, object], error: type) -> None:
    error_type = str(body.get("__type") or body.get("ErrorCode"))
    with StubServer().reply(status, body, **{"x-amzn-ErrorType": error_type}) as stub:
        with pytest.raises(LlmError) as raised:
            sagemaker_model(stub.url).generate(MESSAGES)
        assert stub.requests[0].path == "/endpoints/twin/invocations"
        assert stub.requests[0].headers["Content-Type"] == "application/json"
    assert type(raised.value) is error


def test_sagemaker_needs_an_endpoint_name() -> None:
    with pytest.raises(LlmError, match="LMI_ENDPOINT_NAME"):
        SageMakerTransport(Settings())


def test_the_local_read_timeout_grows_with_max_tokens() -> None:
    settings = Settings(llm="lmi-local", lmi_timeout_s=0.5, lmi_local_min_tokens_per_s=10)
    with StubServer().reply(200, COMPLETION, delay_s=1.0) as stub:  # a generation of 1 s
        chat = make_chat_model(settings.model_copy(update={"lmi_url": stub.url}))
        assert chat.generate(MESSAGES, GenerationParams(max_new_tokens=20)).text == "Hello."  # 2.5 s budget
        with pytest.raises(TransientLlmError, match=r"no answer in 0\.6 s"):
            chat.generate(MESSAGES, GenerationParams(max_new_tokens=1))  # 0.5 + 1 / 10 s
    assert [r.headers[TIMEOUT_HEADER] for r in stub.requests] == ["2.500", "0.600"]  # the server's deadline


def test_the_sagemaker_read_timeout_is_lmi_timeout_s(aws_env: None) -> None:
    settings = Settings(lmi_timeout_s=0.5, lmi_local_min_tokens_per_s=10)
    with StubServer().reply(200, COMPLETION, delay_s=1.0) as stub:
        settings = settings.model_copy(update={"lmi_endpoint_name": "twin", "aws_endpoint_url": stub.url})
        chat = make_chat_model(settings.model_copy(update={"llm": "lmi-sagemaker"}))
        with pytest.raises(TransientLlmError, match="Read timeout"):
            chat.generate(MESSAGES, GenerationParams(max_new_tokens=20))  # not lengthened by max_tokens


def test_make_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    local = make_chat_model(Settings(lmi_url="http://127.0.0.1:9"))
    assert isinstance(local, LmiChatModel) and isinstance(local, ChatModel)
    sagemaker = make_chat_model(Settings(llm="lmi-sagemaker", lmi_endpoint_name="x"))
    assert isinstance(sagemaker, LmiChatModel)
    bedrock = make_chat_model(Settings(llm="bedrock"))
    assert isinstance(bedrock, BedrockChatModel) and isinstance(bedrock, ChatModel)


CONVERSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Bonjour."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 11, "outputTokens": 2, "totalTokens": 13},
    "metrics": {"latencyMs": 5},
}


def bedrock_model(url: str) -> BedrockChatModel:
    settings = Settings(aws_endpoint_url=url)
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=url, config=config)
    return BedrockChatModel(settings, client=client)


def test_bedrock_converse(aws_env: None) -> None:
    with StubServer().reply(200, CONVERSE) as stub:
        generation = bedrock_model(stub.url).generate(
            MESSAGES, GenerationParams(max_new_tokens=9, stop=["##"])
        )
    assert generation.text == "Bonjour."
    assert (generation.prompt_tokens, generation.completion_tokens) == (11, 2)
    sent = stub.requests[0].json()
    assert stub.requests[0].path.endswith("/converse")
    assert sent["system"] == [{"text": "Be brief."}]
    assert sent["messages"] == [{"role": "user", "content": [{"text": "Hi?"}]}]
    assert sent["inferenceConfig"]["maxTokens"] == 9 and sent["inferenceConfig"]["stopSequences"] == ["##"]


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [(429, "ThrottlingException", TransientLlmError), (400, "ValidationException", LlmError)],
)
def test_bedrock_error_mapping(aws_env: None, status: int, code: str, error: type) -> None:
    stub = StubServer().reply(status, {"message": code}, **{"x-amzn-ErrorType": code})
    with stub, pytest.raises(LlmError) as raised:
        bedrock_model(stub.url).generate(MESSAGES)
    assert type(raised.value) is error
