"""Embedder adapters: ``LocalEmbedder`` (all-MiniLM-L6-v2 in-process) and ``BedrockEmbedder`` (Titan
Text Embeddings V2). Importing this package imports neither torch nor boto3; the adapters load their
model or client on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_twin.features.embedding.bedrock import BedrockEmbedder, EmbedderError
    from llm_twin.features.embedding.local import LocalEmbedder
    from llm_twin.features.ports import Embedder
    from llm_twin.settings import Settings

__all__ = ["BedrockEmbedder", "EmbedderError", "LocalEmbedder", "make_embedder"]


def make_embedder(settings: Settings) -> Embedder:
    """``LLM_TWIN_EMBEDDER=local`` (default) or ``bedrock``."""
    if settings.embedder == "bedrock":
        from llm_twin.features.embedding.bedrock import BedrockEmbedder

        return BedrockEmbedder(settings)
    from llm_twin.features.embedding.local import LocalEmbedder

    return LocalEmbedder(batch_size=settings.embedder_batch_size)


def __getattr__(name: str) -> Any:
    if name == "LocalEmbedder":
        from llm_twin.features.embedding.local import LocalEmbedder

        return LocalEmbedder
    if name in ("BedrockEmbedder", "EmbedderError"):
        from llm_twin.features.embedding import bedrock

        return getattr(bedrock, name)
    raise AttributeError(name)
