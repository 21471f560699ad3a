"""BedrockReranker against a loopback server that speaks the bedrock-agent-runtime ``Rerank`` API, through
the real boto3 client from ``aws_client`` (endpoint_url → 127.0.0.1, dummy credentials): botocore
serializes, signs and parses for real. The fallback is the real LocalReranker over the module's LanceDB
index (tests/rag/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from llm_twin.features.models import Chunk
from llm_twin.features.service import FeatureService
from llm_twin.local.clients import clear_clients
from llm_twin.rag.bedrock_rerank import MAX_DOCUMENT_CHARS, BedrockReranker, document_text
from llm_twin.rag.hybrid import Candidate, HybridRetriever
from llm_twin.rag.rerank import LocalReranker, Reranker
from llm_twin.settings import Settings
from tests.features.loopback import LoopbackServer, Recorded, Reply
from tests.rag.fakes import chunk

QUERY = "sourdough starter feeding rye"
REGION = "us-west-2"
AMAZON_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/amazon.rerank-v1:0"
# Relevance by a phrase of the document: the two Ada sourdough chunks, then Bruno's, the rest low.
SCORES = {
    "Sourdough starter feeding": 0.95,
    "Bake the sourdough loaf": 0.94,
    "Sourdough starter secrets": 0.93,
    "Kafka consumer lag": 0.2,
    "Rust borrow checker": 0.1,
}


def score_of(text: str) -> float:
    return next((score for phrase, score in SCORES.items() if phrase in text), 0.05)


def rerank_api(request: Recorded) -> Reply:
    """Scores every source; results sorted by score ascending (the adapter must use ``index``)."""
    sources = request.json()["sources"]
    scored = [
        {"index": i, "relevanceScore": score_of(s["inlineDocumentSource"]["textDocument"]["text"])}
        for i, s in enumerate(sources)
    ]
    return Reply(200, {"results": sorted(scored, key=lambda r: r["relevanceScore"])})


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"message": message}, {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/"})


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def bedrock(aws_credentials: None) -> Iterator[LoopbackServer]:
    with LoopbackServer(rerank_api) as server:
        yield server
        clear_clients(server.url)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard-mode backoff (jittered, up to 1 s before the retry) not slept."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture(scope="module")
def candidates(features: FeatureService) -> list[Candidate]:
    found = HybridRetriever(features).retrieve([QUERY], None, pool=5).candidates
    assert len(found) == 5
    return found


def reranker(url: str, features: FeatureService, **kwargs: Any) -> BedrockReranker:
    settings = Settings(aws_endpoint_url=url, region=REGION)
    return BedrockReranker(settings, LocalReranker(features), **kwargs)


def test_request_is_signed_and_carries_query_documents_model_and_count(
    bedrock: LoopbackServer, features: FeatureService, candidates: list[Candidate]
) -> None:
    reranker(bedrock.url, features).rerank(QUERY, candidates, 3)
    (request,) = bedrock.requests
    assert (request.method, request.path) == ("POST", "/rerank")
    assert request.headers["content-type"] == "application/json"
    auth = request.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTTEST/")
    assert f"/{REGION}/bedrock/aws4_request" in auth  # signing name of bedrock-agent-runtime
    texts = [f"{c.chunk.title}\n{c.chunk.text}" for c in candidates]  # no section in these chunks
    assert request.json() == {
        "queries": [{"type": "TEXT", "textQuery": {"text": QUERY}}],
        "sources": [
            {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": t}}}
            for t in texts
        ],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "modelConfiguration": {"modelArn": AMAZON_ARN},
                "numberOfResults": 5,
            },
        },
    }


def test_cohere_model_arn_is_built_from_the_region(
    bedrock: LoopbackServer, features: FeatureService, candidates: list[Candidate]
) -> None:
    reranker(bedrock.url, features, model_id="cohere.rerank-v3-5:0").rerank(QUERY, candidates, 2)
    config = bedrock.requests[0].json()["rerankingConfiguration"]["bedrockRerankingConfiguration"]
    assert config["modelConfiguration"]["modelArn"] == (
        f"arn:aws:bedrock:{REGION}::foundation-model/cohere.rerank-v3-5:0"
    )


def test_order_follows_relevance_then_document_diversity(
    bedrock: LoopbackServer, features: FeatureService, candidates: list[Candidate]
) -> None:
    notes: list[str] = []
    ranked = reranker(bedrock.url, features).rerank(QUERY, candidates, 4, notes=notes)
    # 0.95 Ada#0; Ada#1 0.94 - 0.03 (second chunk of its document) = 0.91 < Bruno 0.93; then Ada#1
    assert [c.chunk.chunk_id for c in ranked] == [
        "ada-sourdough#0000",
        "bruno-sourdough#0000",
        "ada-sourdough#0001",
        "ada-kafka#0000",
    ]
    assert [c.score for c in ranked] == pytest.approx([0.95, 0.93, 0.91, 0.2])
    assert [c.features for c in ranked] == [{"relevance": pytest.approx(s)} for s in (0.95, 0.93, 0.94, 0.2)]
    assert notes == []  # no fallback
    strong = reranker(bedrock.url, features, diversity_penalty=0.8).rerank(QUERY, candidates, 3)
    assert len({c.chunk.document_id for c in strong}) == 3  # 0.94 - 0.8 < Kafka 0.2


def test_empty_pool_makes_no_call(bedrock: LoopbackServer, features: FeatureService) -> None:
    assert reranker(bedrock.url, features).rerank(QUERY, [], 3) == []
    assert bedrock.requests == []


def test_pools_over_1000_documents_are_split_and_merged(
    bedrock: LoopbackServer, features: FeatureService
) -> None:
    texts = [f"filler passage {i}" for i in range(1000)] + ["Sourdough starter feeding at last"]
    pool = [
        Candidate(chunk=Chunk(**chunk("Ada Quill", f"doc{i}", 0, text)), score=0.0)
        for i, text in enumerate(texts)
    ]
    ranked = reranker(bedrock.url, features).rerank(QUERY, pool, 2)
    assert [len(r.json()["sources"]) for r in bedrock.requests] == [1000, 1]
    numbers = [
        r.json()["rerankingConfiguration"]["bedrockRerankingConfiguration"]["numberOfResults"]
        for r in bedrock.requests
    ]
    assert numbers == [1000, 1]
    assert ranked[0].chunk.document_id == "doc1000"  # the best score came from the second call
    assert ranked[0].score == pytest.approx(0.95)


def test_documents_are_cut_to_the_character_cap(features: FeatureService) -> None:
    long = Candidate(chunk=Chunk(**chunk("Ada Quill", "long", 0, "x" * 50_000)), score=0.0)
    text = document_text(long)
    assert len(text) == MAX_DOCUMENT_CHARS < 32_000  # RerankTextDocument.text max length
    assert text.startswith("Long\nxxx")


FAILURES = {
    "throttled": ([error(429, "ThrottlingException", "Too many requests")] * 2, 2, "ThrottlingException"),
    "access denied": (
        [error(403, "AccessDeniedException", "not authorized to perform bedrock:Rerank")],
        1,
        "AccessDeniedException: not authorized",
    ),
    "validation": ([error(400, "ValidationException", "model not in region")], 1, "ValidationException"),
    "not json": ([Reply(200, b"<html>gateway</html>")], 1, "malformed response: no results list"),
    "index out of range": (
        [Reply(200, {"results": [{"index": 9, "relevanceScore": 0.5}]})],
        1,
        "malformed response: result",
    ),
    "a score missing": (
        [Reply(200, {"results": [{"index": 0, "relevanceScore": 0.5}]})],
        1,
        "malformed response: 1 scores for 5 documents",
    ),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_failures_fall_back_to_local_rescoring_with_a_note(
    case: str,
    bedrock: LoopbackServer,
    no_backoff: None,
    features: FeatureService,
    candidates: list[Candidate],
) -> None:
    replies, requests, reason = FAILURES[case]
    bedrock.script(*replies)
    notes: list[str] = []
    ranked = reranker(bedrock.url, features).rerank(QUERY, candidates, 3, notes=notes)
    assert ranked == LocalReranker(features).rerank(QUERY, candidates, 3)
    assert len(bedrock.requests) == requests  # throttling retried once, other errors not
    (note,) = notes
    assert note.startswith("rerank: Bedrock Rerank failed (") and reason in note
    assert note.endswith("; local-rescoring used")


def test_throttling_once_is_retried_and_succeeds(
    bedrock: LoopbackServer, no_backoff: None, features: FeatureService, candidates: list[Candidate]
) -> None:
    bedrock.script(error(429, "ThrottlingException", "Too many requests"))
    notes: list[str] = []
    ranked = reranker(bedrock.url, features).rerank(QUERY, candidates, 1, notes=notes)
    assert len(bedrock.requests) == 2 and notes == []
    assert ranked[0].features == {"relevance": pytest.approx(0.95)}


def test_connection_refused_falls_back(
    aws_credentials: None, no_backoff: None, features: FeatureService, candidates: list[Candidate]
) -> None:
    with LoopbackServer() as server:
        url = server.url  # closed when the block ends: nothing listens there any more
    try:
        notes: list[str] = []
        ranked = reranker(url, features).rerank(QUERY, candidates, 3)  # notes=None is fine too
        assert ranked == LocalReranker(features).rerank(QUERY, candidates, 3)
        reranker(url, features).rerank(QUERY, candidates, 3, notes=notes)
        assert len(notes) == 1 and "EndpointConnectionError" in notes[0]
    finally:
        clear_clients(url)


def test_read_timeout_falls_back(
    aws_credentials: None, no_backoff: None, features: FeatureService, candidates: list[Candidate]
) -> None:
    def slow(request: Recorded) -> Reply:
        time.sleep(1.0)
        return rerank_api(request)

    with LoopbackServer(slow) as server:
        # the late answers hit sockets the client closed: not worth a traceback on stderr
        server._httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        notes: list[str] = []
        started = time.perf_counter()
        ranked = reranker(server.url, features, timeout_s=0.2).rerank(QUERY, candidates, 3, notes=notes)
        elapsed = time.perf_counter() - started
        clear_clients(server.url)
    assert ranked == LocalReranker(features).rerank(QUERY, candidates, 3)
    assert len(notes) == 1 and "ReadTimeoutError" in notes[0]
    assert len(server.requests) == 2  # one retry after the timeout
    assert elapsed < 1.0  # two 0.2 s attempts, not the server's 1 s


def test_satisfies_the_port(features: FeatureService) -> None:
    adapter = BedrockReranker(Settings(region="eu-central-1"), LocalReranker(features))
    assert isinstance(adapter, Reranker)
    assert adapter.model_arn == "arn:aws:bedrock:eu-central-1::foundation-model/amazon.rerank-v1:0"
