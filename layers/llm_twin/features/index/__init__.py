"""Vector index adapters: ``EmbeddedIndex`` (LanceDB on disk, the local default) and
``OpenSearchIndex`` (OpenSearch k-NN, faiss HNSW, SigV4). Importing this package imports neither
lancedb nor opensearch-py; neither adapter touches disk or network before its first call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_twin.features.index.base import GenerationalIndex, VectorIndexError

if TYPE_CHECKING:
    from llm_twin.features.index.embedded import EmbeddedIndex
    from llm_twin.features.index.opensearch import OpenSearchIndex
    from llm_twin.settings import Settings

__all__ = ["EmbeddedIndex", "GenerationalIndex", "OpenSearchIndex", "VectorIndexError", "make_index"]


def make_index(settings: Settings) -> GenerationalIndex:
    """``LLM_TWIN_VECTOR_INDEX=embedded`` (default) or ``opensearch``."""
    if settings.vector_index == "opensearch":
        from llm_twin.features.index.opensearch import OpenSearchIndex

        return OpenSearchIndex(settings)
    from llm_twin.features.index.embedded import EmbeddedIndex

    return EmbeddedIndex(settings)


def __getattr__(name: str) -> Any:
    if name == "EmbeddedIndex":
        from llm_twin.features.index.embedded import EmbeddedIndex

        return EmbeddedIndex
    if name == "OpenSearchIndex":
        from llm_twin.features.index.opensearch import OpenSearchIndex

        return OpenSearchIndex
    raise AttributeError(name)
