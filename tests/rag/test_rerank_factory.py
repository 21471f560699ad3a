"""The RAG composition root picks the reranker from ``LLM_TWIN_RAG_RERANKER`` (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from llm_twin.features.service import FeatureService
from llm_twin.rag.bedrock_rerank import BedrockReranker
from llm_twin.rag.factory import build_rag_service, make_reranker
from llm_twin.rag.rerank import LocalReranker, NoReranker, RescoreWeights
from llm_twin.rag.settings import RagSettings
from llm_twin.settings import Settings


def test_default_is_the_local_rescoring_with_the_configured_weights(features: FeatureService) -> None:
    rag = RagSettings(rerank_dense_weight=0.5, rerank_diversity_penalty=0.1)
    assert rag.reranker == "local" and rag.rerank_model_id == "amazon.rerank-v1:0"
    reranker = make_reranker(Settings(), rag, features)
    assert isinstance(reranker, LocalReranker)
    assert reranker.weights == RescoreWeights(dense=0.5, diversity_penalty=0.1)


def test_none_keeps_the_fusion_order(features: FeatureService) -> None:
    assert isinstance(make_reranker(Settings(), RagSettings(reranker="none"), features), NoReranker)


def test_bedrock_has_the_local_rescoring_as_fallback(features: FeatureService) -> None:
    rag = RagSettings(
        reranker="bedrock",
        rerank_model_id="cohere.rerank-v3-5:0",
        rerank_timeout_s=1.5,
        rerank_diversity_penalty=0.07,
    )
    reranker = make_reranker(Settings(region="ca-central-1"), rag, features)
    assert isinstance(reranker, BedrockReranker)
    assert reranker.model_arn == "arn:aws:bedrock:ca-central-1::foundation-model/cohere.rerank-v3-5:0"
    assert (reranker.timeout_s, reranker.diversity_penalty) == (1.5, 0.07)
    assert isinstance(reranker.fallback, LocalReranker)
    assert reranker.fallback.weights.diversity_penalty == 0.07


def test_environment_reaches_the_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As Lambda configures it (infra/constructs/api.py sets these variables)."""
    monkeypatch.setenv("LLM_TWIN_RAG_RERANKER", "bedrock")
    monkeypatch.setenv("LLM_TWIN_RAG_RERANK_MODEL_ID", "amazon.rerank-v1:0")
    service = build_rag_service(Settings(home=tmp_path, region="eu-central-1"))
    reranker = service._reranker  # RagService keeps what the factory passed
    assert isinstance(reranker, BedrockReranker)
    assert reranker.model_arn == "arn:aws:bedrock:eu-central-1::foundation-model/amazon.rerank-v1:0"
    monkeypatch.setenv("LLM_TWIN_RAG_RERANKER", "local")
    assert isinstance(build_rag_service(Settings(home=tmp_path))._reranker, LocalReranker)


@pytest.mark.parametrize(
    "values",
    [
        {"reranker": "cohere"},
        {"rerank_model_id": "amazon.titan-embed-text-v2:0"},  # not a reranking model
        {"rerank_model_id": "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0"},  # an id
        {"rerank_timeout_s": 0},
    ],
)
def test_invalid_settings_are_refused(values: dict) -> None:
    with pytest.raises(ValidationError):
        RagSettings(**values)
