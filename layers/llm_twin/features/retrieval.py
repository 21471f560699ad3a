"""Retrieval over the feature index (the RAG inference pipeline builds on this)."""

from __future__ import annotations

from llm_twin.features.models import SearchFilters, SearchHit
from llm_twin.features.service import FeatureService


def search_chunks(
    service: FeatureService, query: str, *, k: int = 5, filters: SearchFilters | None = None
) -> list[SearchHit]:
    """Filtered k-NN for ``query``: the best ``k`` chunks, best first."""
    if not query.strip():
        return []
    vector = service.embedder.embed_query(query)
    return service.index.search(vector, k, filters)
