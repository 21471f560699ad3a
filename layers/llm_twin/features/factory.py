"""Composition root of the feature pipeline: settings → embedder, index, token counter → service."""

from __future__ import annotations

from llm_twin.composition import PerConfiguration
from llm_twin.features.embedding import make_embedder
from llm_twin.features.index import make_index
from llm_twin.features.service import FeatureService
from llm_twin.features.tokens import default_counter
from llm_twin.settings import Settings


def build_feature_service(settings: Settings) -> FeatureService:
    return FeatureService(make_index(settings), make_embedder(settings), default_counter())


feature_service = PerConfiguration[FeatureService](build_feature_service)
