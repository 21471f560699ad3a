"""Settings of the RAG inference pipeline, read from ``LLM_TWIN_RAG_*`` variables.

Kept apart from :class:`llm_twin.settings.Settings` so the RAG package owns its knobs; the fetcher used
for draft links is built from the main settings (``LLM_TWIN_CRAWL_ALLOW_HOSTS`` is its allow-list).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A Bedrock reranking model id: amazon.rerank-v1:0, cohere.rerank-v3-5:0 (docs/infrastructure.md).
RERANK_MODEL_ID = re.compile(r"^[a-z0-9-]+\.[a-z0-9-]*rerank[a-z0-9.:-]*$")


class RagSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LLM_TWIN_RAG_", extra="ignore", populate_by_name=True)

    expansions: int = Field(3, ge=0, le=10, description="Alternative phrasings asked of the LLM (0: off).")
    self_query: bool = Field(True, description="Ask the LLM for filters (the rules always back it up).")
    candidates_factor: int = Field(4, ge=1, le=20, description="Candidate pool = factor x k per list.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    context_tokens: int = Field(1200, ge=100, description="Token budget of the sources in the prompt.")
    min_similarity: float = Field(
        0.2, ge=-1.0, le=1.0, description="Best cosine below this: nothing relevant, the LLM is not called."
    )
    link_excerpt_tokens: int = Field(350, ge=50, description="Tokens of a draft's external link kept.")
    link_max_bytes: int = Field(2_000_000, gt=0, description="Download cap for a draft's link.")
    answer_max_tokens: int = Field(256, ge=16, le=4096)
    draft_max_tokens: int = Field(512, ge=16, le=4096)
    repetition_penalty: float = Field(
        1.15, ge=1.0, le=2.0, description="For answers and drafts (1 = off): small models loop without it."
    )
    aux_max_tokens: int = Field(160, ge=16, le=1024, description="Self-query and expansion replies.")
    authors_cache_s: float = Field(
        30.0, ge=0, description="How long a warm process reuses the author list (0: read it per request)."
    )
    reranker: Literal["local", "bedrock", "none"] = Field(
        "local",
        description="local: the documented rescoring (rerank.LocalReranker); bedrock: Amazon Bedrock Rerank "
        "(rag.bedrock_rerank, falls back to local on any failure); none: keep the fusion order.",
    )
    rerank_model_id: str = Field(
        "amazon.rerank-v1:0", description="Bedrock reranking model (cohere.rerank-v3-5:0 also works)."
    )
    rerank_timeout_s: float = Field(
        2.0, gt=0, le=30, description="Bedrock Rerank read timeout per attempt (2 attempts), then fallback."
    )
    # local rescoring weights (rerank.LocalReranker); see docs in rerank.py
    rerank_dense_weight: float = Field(0.6, ge=0)
    rerank_lexical_weight: float = Field(0.25, ge=0)
    rerank_title_weight: float = Field(0.1, ge=0)
    rerank_fusion_weight: float = Field(0.05, ge=0)
    rerank_diversity_penalty: float = Field(
        0.03, ge=0, description="Per chunk already taken from a document."
    )

    @field_validator("rerank_model_id")
    @classmethod
    def _rerank_model(cls, value: str) -> str:
        value = value.strip()
        if not RERANK_MODEL_ID.match(value):
            raise ValueError(f"not a Bedrock reranking model id (amazon.rerank-v1:0): {value!r}")
        return value
