"""Composition root of the RAG inference pipeline (used by the API handler and the CLI)."""

from __future__ import annotations

from llm_twin.composition import PerConfiguration
from llm_twin.crawling.fetcher import Fetcher
from llm_twin.features.factory import feature_service
from llm_twin.features.service import FeatureService
from llm_twin.llm.lmi import make_chat_model
from llm_twin.rag.rerank import LocalReranker, NoReranker, Reranker
from llm_twin.rag.service import RagService
from llm_twin.rag.settings import RagSettings
from llm_twin.rag.traces import make_trace_sink
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse


def make_reranker(settings: Settings, rag: RagSettings, features: FeatureService) -> Reranker:
    """``LLM_TWIN_RAG_RERANKER``: ``local`` (default), ``bedrock`` (local as its fallback) or ``none``."""
    if rag.reranker == "none":
        return NoReranker()
    local = LocalReranker.from_settings(features, rag)
    if rag.reranker == "bedrock":
        from llm_twin.rag.bedrock_rerank import BedrockReranker

        return BedrockReranker(
            settings,
            local,
            model_id=rag.rerank_model_id,
            timeout_s=rag.rerank_timeout_s,
            diversity_penalty=rag.rerank_diversity_penalty,
        )
    return local


def build_rag_service(settings: Settings) -> RagService:
    rag = RagSettings()
    features = feature_service(settings)
    return RagService(
        features,
        make_chat_model(settings),
        Warehouse(settings),
        Fetcher(settings),
        rag,
        reranker=make_reranker(settings, rag, features),
        trace_sink=make_trace_sink(settings),
    )


rag_service = PerConfiguration[RagService](build_rag_service)
