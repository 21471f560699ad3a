"""Composition root of the feature pipeline: settings → embedder, index, token counter → service."""

from __future__ import annotations

from threading import Lock

from llm_twin.features.embedding import make_embedder
from llm_twin.features.index import make_index
from llm_twin.features.service import FeatureService
from llm_twin.features.tokens import default_counter
from llm_twin.settings import Settings

_services: dict[str, FeatureService] = {}
_lock = Lock()


def build_feature_service(settings: Settings) -> FeatureService:
    return FeatureService(make_index(settings), make_embedder(settings), default_counter())


def feature_service(settings: Settings | None = None) -> FeatureService:
    """The service for the current configuration, built once per configuration per process (the
    embedding model and index connections are reused across invocations)."""
    settings = settings or Settings()
    key = settings.model_dump_json()
    with _lock:
        service = _services.get(key)
        if service is None:
            service = _services[key] = build_feature_service(settings)
        return service
