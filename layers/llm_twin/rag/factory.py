"""Composition root of the RAG inference pipeline (used by the API handler and the CLI)."""

from __future__ import annotations

from llm_twin.composition import PerConfiguration
from llm_twin.crawling.fetcher import Fetcher
from llm_twin.features.factory import feature_service
from llm_twin.llm.lmi import make_chat_model
from llm_twin.rag.service import RagService
from llm_twin.rag.traces import make_trace_sink
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse


def build_rag_service(settings: Settings) -> RagService:
    return RagService(
        feature_service(settings),
        make_chat_model(settings),
        Warehouse(settings),
        Fetcher(settings),
        trace_sink=make_trace_sink(settings),
    )


rag_service = PerConfiguration[RagService](build_rag_service)
