"""Composition root of the RAG inference pipeline (used by the API handler and the CLI)."""

from __future__ import annotations

from threading import Lock

from llm_twin.crawling.fetcher import Fetcher
from llm_twin.features.factory import feature_service
from llm_twin.llm.lmi import make_chat_model
from llm_twin.rag.service import RagService
from llm_twin.rag.traces import make_trace_sink
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse

_services: dict[str, RagService] = {}
_lock = Lock()


def build_rag_service(settings: Settings) -> RagService:
    return RagService(
        feature_service(settings),
        make_chat_model(settings),
        Warehouse(settings),
        Fetcher(settings),
        trace_sink=make_trace_sink(settings),
    )


def rag_service(settings: Settings | None = None) -> RagService:
    """One service per configuration per process (model clients and the index are reused)."""
    settings = settings or Settings()
    key = settings.model_dump_json()
    with _lock:
        service = _services.get(key)
        if service is None:
            service = _services[key] = build_rag_service(settings)
        return service
