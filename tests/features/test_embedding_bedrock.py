"""BedrockEmbedder against a loopback server that speaks the bedrock-runtime InvokeModel API, through
the real boto3 client from ``aws_client`` (endpoint_url → loopback, dummy credentials)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator

import pytest

from llm_twin.errors import InvalidInputError, TransientIndexError
from llm_twin.features.embedding import BedrockEmbedder, EmbedderError, make_embedder
from llm_twin.local.clients import MAX_ATTEMPTS, clear_clients
from llm_twin.settings import Settings
from tests.features.loopback import LoopbackServer, Recorded, Reply

MODEL = "amazon.titan-embed-text-v2:0"
# botocore's retries={"max_attempts": N} counts retries, not attempts: N + 1 requests in all
ATTEMPTS = MAX_ATTEMPTS + 1


def fake_vector(text: str, dimension: int) -> list[float]:
    """Deterministic per text, deliberately not unit length (the embedder must normalize)."""
    seed = hashlib.sha256(text.encode()).digest()
    return [((seed[i % 32] + i) % 17 - 8) / 4.0 + 0.01 for i in range(dimension)]


def titan(request: Recorded) -> Reply:
    body = request.json()
    return Reply(
        200,
        {"embedding": fake_vector(body["inputText"], body["dimensions"]), "inputTextTokenCount": 3},
        {"X-Amzn-Bedrock-Input-Token-Count": "3"},
    )


def throttled() -> Reply:
    return Reply(
        429,
        {"message": "Too many requests, please wait before trying again."},
        {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
    )


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with LoopbackServer(titan) as server:
        yield server
        clear_clients(server.url)


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's standard-mode backoff, recorded instead of slept."""
    from botocore.retries import standard

    recorded: list[float] = []
    original = standard.ExponentialBackoff.delay_amount

    def delay_amount(self: standard.ExponentialBackoff, context: object) -> float:
        recorded.append(original(self, context))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", delay_amount)
    return recorded


def embedder_for(server: LoopbackServer, dimensions: int = 256, concurrency: int = 4) -> BedrockEmbedder:
    settings = Settings(
        embedder="bedrock",
        aws_endpoint_url=server.url,
        region="us-east-1",
        bedrock_embedding_dimensions=dimensions,
        bedrock_max_concurrency=concurrency,
    )
    embedder = make_embedder(settings)
    assert isinstance(embedder, BedrockEmbedder)
    return embedder


def test_request_body_path_and_signature(bedrock: LoopbackServer) -> None:
    vector = embedder_for(bedrock, 256).embed_query("Hello\nworld: a *markdown* text")
    (request,) = bedrock.requests
    assert request.method == "POST"
    assert request.path == f"/model/{MODEL}/invoke"
    assert request.raw_path == "/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert request.json() == {
        "inputText": "Hello\nworld: a *markdown* text",
        "dimensions": 256,
        "normalize": True,
    }
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    auth = request.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTTEST/")
    assert "/us-east-1/bedrock/aws4_request" in auth
    expected = fake_vector("Hello\nworld: a *markdown* text", 256)
    norm = math.sqrt(sum(x * x for x in expected))
    assert vector == pytest.approx([x / norm for x in expected])
    assert math.isclose(sum(x * x for x in vector), 1.0, rel_tol=1e-9)


def test_batch_keeps_order_with_parallel_calls(bedrock: LoopbackServer) -> None:
    texts = [f"text number {i}" for i in range(23)]
    vectors = embedder_for(bedrock, 512, concurrency=8).embed_documents(texts)
    assert len(vectors) == 23 and all(len(v) == 512 for v in vectors)
    for text, vector in zip(texts, vectors, strict=True):
        expected = fake_vector(text, 512)
        norm = math.sqrt(sum(x * x for x in expected))
        assert vector == pytest.approx([x / norm for x in expected])
    assert sorted(r.json()["inputText"] for r in bedrock.requests) == sorted(texts)
    assert {r.json()["dimensions"] for r in bedrock.requests} == {512}


def test_empty_batch_makes_no_call(bedrock: LoopbackServer) -> None:
    assert embedder_for(bedrock).embed_documents([]) == []
    with pytest.raises(InvalidInputError):
        embedder_for(bedrock).embed_query("   ")
    assert bedrock.requests == []


def test_throttling_is_retried_with_backoff(bedrock: LoopbackServer, delays: list[float]) -> None:
    bedrock.script(throttled(), throttled())
    vector = embedder_for(bedrock).embed_query("retry me")
    assert len(vector) == 256
    assert len(bedrock.requests) == 3
    assert [r.json() for r in bedrock.requests] == [bedrock.requests[0].json()] * 3
    assert len(delays) == 2 and all(d >= 0 for d in delays)


def test_persistent_throttling_becomes_transient_error(bedrock: LoopbackServer, delays: list[float]) -> None:
    bedrock.script(*[throttled() for _ in range(ATTEMPTS + 2)])
    with pytest.raises(TransientIndexError, match="ThrottlingException"):
        embedder_for(bedrock).embed_query("always throttled")
    assert len(bedrock.requests) == ATTEMPTS
    assert len(delays) == ATTEMPTS - 1


def test_server_errors_are_transient(bedrock: LoopbackServer, delays: list[float]) -> None:
    error = Reply(503, {"message": "unavailable"}, {"x-amzn-ErrorType": "ServiceUnavailableException"})
    bedrock.script(*[error for _ in range(ATTEMPTS + 2)])
    with pytest.raises(TransientIndexError, match="ServiceUnavailableException"):
        embedder_for(bedrock).embed_query("down")
    assert len(bedrock.requests) == ATTEMPTS


def test_validation_error_is_permanent_and_not_retried(bedrock: LoopbackServer) -> None:
    bedrock.script(
        Reply(400, {"message": "Malformed input request"}, {"x-amzn-ErrorType": "ValidationException"})
    )
    with pytest.raises(EmbedderError, match="ValidationException"):
        embedder_for(bedrock).embed_query("bad")
    assert len(bedrock.requests) == 1


def test_wrong_dimension_in_response_is_refused(bedrock: LoopbackServer) -> None:
    bedrock.script(Reply(200, {"embedding": [0.1, 0.2], "inputTextTokenCount": 1}))
    with pytest.raises(EmbedderError, match="expected 256 floats, got 2"):
        embedder_for(bedrock).embed_query("short")


def test_connection_refused_is_transient(monkeypatch: pytest.MonkeyPatch, delays: list[float]) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with LoopbackServer() as server:
        url = server.url
    try:
        embedder = make_embedder(Settings(embedder="bedrock", aws_endpoint_url=url))
        with pytest.raises(TransientIndexError):
            embedder.embed_query("nobody listens")
    finally:
        clear_clients(url)


def test_settings_and_protocol() -> None:
    from llm_twin.features.ports import Embedder

    embedder = make_embedder(Settings(embedder="bedrock", bedrock_embedding_dimensions=512))
    assert isinstance(embedder, Embedder)
    assert (embedder.model_name, embedder.dimension) == (MODEL, 512)
    with pytest.raises(ValueError, match="256, 512 or 1024"):
        Settings(bedrock_embedding_dimensions=300)
    assert json.loads(json.dumps(BedrockEmbedder(Settings()).request_body("x"))) == {
        "inputText": "x",
        "dimensions": 1024,
        "normalize": True,
    }
