"""Amazon Titan Text Embeddings V2 on Bedrock, called with boto3 ``bedrock-runtime.invoke_model``.

Why not langchain-aws ``BedrockEmbeddings``: it embeds a list one text after another, rewrites the text
(newlines → spaces), wraps every failure in a bare ``ValueError`` (a throttle is then indistinguishable
from a bad request) and costs ~0.85 s of imports at cold start against ~0.13 s for boto3
(docs/vector-index.md). One InvokeModel call per text is what the API offers; calls run in parallel.

Retries: the client comes from :func:`llm_twin.local.clients.aws_client`, whose botocore "standard"
mode already retries ThrottlingException / 429 / 5xx / connection errors with exponential backoff and
jitter (5 attempts). What still fails after that becomes :class:`TransientIndexError` (the caller, a
Lambda with a stream or queue source, retries later); anything else becomes :class:`EmbedderError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from llm_twin.errors import InvalidInputError, LlmTwinError, TransientIndexError
from llm_twin.local.clients import aws_client

if TYPE_CHECKING:
    from llm_twin.settings import Settings

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        "ModelTimeoutException",
        "InternalServerException",
    }
)


class EmbedderError(LlmTwinError):
    """The embedding service refused the request (access, validation, bad response): do not retry."""


class BedrockEmbedder:
    """Titan V2 vectors (``normalize: true`` → unit length) of the configured dimension."""

    def __init__(self, settings: Settings, *, client: Any = None) -> None:
        self._settings = settings
        self._client = client
        self.model_name: str = settings.bedrock_embedding_model_id
        self.dimension: int = settings.bedrock_embedding_dimensions
        self._concurrency = settings.bedrock_max_concurrency

    def _runtime(self) -> Any:
        if self._client is None:
            self._client = aws_client("bedrock-runtime", self._settings)
        return self._client

    def request_body(self, text: str) -> dict[str, Any]:
        return {"inputText": text, "dimensions": self.dimension, "normalize": True}

    def _embed_one(self, text: str) -> list[float]:
        if not text.strip():
            raise InvalidInputError("cannot embed an empty text")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._runtime().invoke_model(
                modelId=self.model_name,
                body=json.dumps(self.request_body(text)),
                contentType="application/json",
                accept="application/json",
            )
            payload = json.loads(response["body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in TRANSIENT_CODES or status == 429 or status >= 500:
                raise TransientIndexError(f"Bedrock {self.model_name}: {code or status}") from exc
            raise EmbedderError(f"Bedrock {self.model_name}: {code}: {exc}") from exc
        except BotoCoreError as exc:  # connection errors, timeouts (after botocore's retries)
            raise TransientIndexError(f"Bedrock {self.model_name}: {exc}") from exc
        except ValueError as exc:
            raise EmbedderError(f"Bedrock {self.model_name}: response is not JSON") from exc
        return self._parse(payload)

    def _parse(self, payload: Any) -> list[float]:
        vector = payload.get("embedding") if isinstance(payload, dict) else None
        if not isinstance(vector, list) or len(vector) != self.dimension:
            got = len(vector) if isinstance(vector, list) else type(vector).__name__
            raise EmbedderError(f"Bedrock {self.model_name}: expected {self.dimension} floats, got {got}")
        values = [float(x) for x in vector]
        norm = math.sqrt(sum(x * x for x in values))
        if norm == 0.0 or not math.isfinite(norm):
            raise EmbedderError(f"Bedrock {self.model_name}: degenerate vector")
        return [x / norm for x in values]  # already unit length (normalize: true); guards rounding

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if len(texts) == 1 or self._concurrency == 1:
            return [self._embed_one(text) for text in texts]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(texts))) as pool:
            return list(pool.map(self._embed_one, texts))

    def embed_query(self, text: str) -> list[float]:
        return self._embed_one(text)

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_documents(texts)  # Titan v2 embeds queries and documents alike
