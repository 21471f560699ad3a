"""The AWS adapter of the reranker port: Amazon Bedrock ``Rerank`` (boto3 ``bedrock-agent-runtime``).

A cross-encoder (Amazon Rerank 1.0 ``amazon.rerank-v1:0`` by default, Cohere Rerank 3.5
``cohere.rerank-v3-5:0`` as the alternative) scores every fused candidate against the **original**
query; ``relevanceScore`` is the score. The same per-document diversity step as the local rescoring
(:func:`llm_twin.rag.rerank._diversify`, penalty ``LLM_TWIN_RAG_RERANK_DIVERSITY_PENALTY``) then picks
the best ``k``, so both rerankers return the same shape: ``score`` = relevance minus the penalty,
``features == {"relevance": <relevanceScore>}``.

API limits (Bedrock API reference: ``Rerank``, ``RerankTextDocument``, ``BedrockRerankingConfiguration``):
``queries`` exactly 1 item; ``sources`` 1..1000 items; a query or document text 1..32,000 characters;
``numberOfResults`` 1..1000. A document is the chunk's title + section + text cut to
:data:`MAX_DOCUMENT_CHARS`; a pool above :data:`MAX_SOURCES` candidates goes in several calls (a
cross-encoder scores each query-document pair on its own, so scores of separate calls compare); the
fused pool of ``candidates_factor x k`` per list is far below that: one call in practice.

Failures never fail the request: a ``ClientError`` (ThrottlingException, AccessDeniedException,
ValidationException, ...), a connection error, a read timeout or a malformed response hands the
candidates to ``fallback`` (the local rescoring) and appends a note to the request trace
(``rerank: Bedrock Rerank failed (ThrottlingException: ...); local-rescoring used``).

Client: :func:`llm_twin.local.clients.aws_client` (endpoint/region from the settings, so tests and the
local runtime point it at a loopback server) with a short read timeout (``LLM_TWIN_RAG_RERANK_TIMEOUT_S``,
2 s) and :data:`MAX_RETRIES` = 1 (botocore "standard" mode: one retry of throttling, 5xx, connection errors
and timeouts, with jittered backoff): the rerank sits on the answer's path, inside API Gateway's 29 s.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from llm_twin.rag.hybrid import Candidate
from llm_twin.rag.rerank import Reranker, RescoreWeights, _diversify

if TYPE_CHECKING:
    from llm_twin.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "amazon.rerank-v1:0"
COHERE_MODEL_ID = "cohere.rerank-v3-5:0"
MAX_SOURCES = 1000  # Rerank: sources, 1..1000 items per request (and numberOfResults <= 1000)
MAX_TEXT_CHARS = 32_000  # RerankTextDocument.text: 1..32,000 characters (query and documents)
# Our own cap, well under the API's 32,000: a chunk is bounded by the embedder's token limit already,
# the cap only bounds the request size (1000 x 4,000 characters = 4 MB at most).
MAX_DOCUMENT_CHARS = 4_000
MAX_PAGES = 10  # nextToken pages followed per call (numberOfResults = all sources: one page expected)
MAX_RETRIES = 1  # after the first request: 2 requests at most per call
CONNECT_TIMEOUT_S = 1.0
DEFAULT_TIMEOUT_S = 2.0


class RerankUnavailable(Exception):
    """Bedrock Rerank did not give a usable answer; the message goes into the request's notes."""


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def model_arn(model_id: str, region: str) -> str:
    """Foundation models have no account in their ARN: ``arn:aws:bedrock:<region>::foundation-model/<id>``."""
    return f"arn:{partition_of(region)}:bedrock:{region}::foundation-model/{model_id}"


def document_text(candidate: Candidate) -> str:
    """What the cross-encoder reads: title, section path and chunk text, cut to MAX_DOCUMENT_CHARS."""
    chunk = candidate.chunk
    text = "\n".join(part.strip() for part in (chunk.title, chunk.section or "", chunk.text) if part.strip())
    return (text or chunk.chunk_id)[:MAX_DOCUMENT_CHARS]


class BedrockReranker:
    """``rerank`` through Bedrock; any failure → ``fallback.rerank`` + a note (see the module doc)."""

    name = "bedrock-rerank"

    def __init__(
        self,
        settings: Settings,
        fallback: Reranker,
        *,
        model_id: str = DEFAULT_MODEL_ID,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        diversity_penalty: float = RescoreWeights.diversity_penalty,
        client: Any = None,
    ) -> None:
        self._settings = settings
        self.fallback = fallback
        self.model_id = model_id
        self.model_arn = model_arn(model_id, settings.region)
        self.timeout_s = timeout_s
        self.diversity_penalty = diversity_penalty
        self._client = client
        self._lock = threading.Lock()

    def _runtime(self) -> Any:
        with self._lock:
            if self._client is None:
                from llm_twin.local.clients import aws_client

                self._client = aws_client(
                    "bedrock-agent-runtime",
                    self._settings,
                    connect_timeout=min(CONNECT_TIMEOUT_S, self.timeout_s),
                    read_timeout=self.timeout_s,
                    max_retries=MAX_RETRIES,
                )
            return self._client

    def request(self, query: str, documents: Sequence[str]) -> dict[str, Any]:
        """The ``Rerank`` parameters for one batch (≤ MAX_SOURCES documents): every document scored."""
        return {
            "queries": [{"type": "TEXT", "textQuery": {"text": query[:MAX_TEXT_CHARS]}}],
            "sources": [
                {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": text}}}
                for text in documents
            ],
            "rerankingConfiguration": {
                "type": "BEDROCK_RERANKING_MODEL",
                "bedrockRerankingConfiguration": {
                    "modelConfiguration": {"modelArn": self.model_arn},
                    "numberOfResults": len(documents),
                },
            },
        }

    def rerank(
        self,
        query: str,
        candidates: Sequence[Candidate],
        k: int,
        *,
        query_vector: list[float] | None = None,
        notes: list[str] | None = None,
    ) -> list[Candidate]:
        if not candidates:
            return []
        try:
            relevance = self.relevance(query, candidates)
        except RerankUnavailable as exc:
            log.warning("Bedrock Rerank failed, %s used: %s", self.fallback.name, exc)
            if notes is not None:
                notes.append(f"rerank: Bedrock Rerank failed ({exc}); {self.fallback.name} used")
            return self.fallback.rerank(query, candidates, k, query_vector=query_vector, notes=notes)
        scored = [
            replace(c, score=score, features={"relevance": score})
            for c, score in zip(candidates, relevance, strict=True)
        ]
        return _diversify(scored, k, self.diversity_penalty)

    def relevance(self, query: str, candidates: Sequence[Candidate]) -> list[float]:
        """``relevanceScore`` of each candidate, in the candidates' order; raises RerankUnavailable."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        documents = [document_text(c) for c in candidates]
        scores: list[float] = []
        try:
            for start in range(0, len(documents), MAX_SOURCES):
                scores += self._batch(query, documents[start : start + MAX_SOURCES])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = error.get("Code") or f"HTTP {status}"
            raise RerankUnavailable(f"{code}: {str(error.get('Message', ''))[:200]}") from exc
        except (BotoCoreError, ResponseParserError) as exc:  # connection, timeout, parameter, parsing
            raise RerankUnavailable(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        return scores

    def _batch(self, query: str, documents: Sequence[str]) -> list[float]:
        request = self.request(query, documents)
        results: list[Any] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            response = self._runtime().rerank(**request, **({"nextToken": token} if token else {}))
            page = response.get("results")
            if not isinstance(page, list):
                raise RerankUnavailable("malformed response: no results list")
            results += page
            token = response.get("nextToken")
            if not token:
                break
        return _scores(results, len(documents))


def _scores(results: Sequence[Any], count: int) -> list[float]:
    """One finite score per document index 0..count-1, or RerankUnavailable (malformed response)."""
    scores: dict[int, float] = {}
    for result in results:
        index = result.get("index") if isinstance(result, dict) else None
        score = result.get("relevanceScore") if isinstance(result, dict) else None
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not 0 <= index < count
            or index in scores
            or not isinstance(score, int | float)
            or not math.isfinite(score)
        ):
            raise RerankUnavailable(f"malformed response: result {result!r:.120}")
        scores[index] = float(score)
    if len(scores) != count:
        raise RerankUnavailable(f"malformed response: {len(scores)} scores for {count} documents")
    return [scores[i] for i in range(count)]
