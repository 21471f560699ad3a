"""Hybrid retrieval: filtered k-NN and BM25 per query, merged by reciprocal rank fusion.

RRF (Cormack et al., 2009): ``score(d) = Σ_lists 1 / (k + rank_list(d))`` with k = 60. It needs no
score calibration, which matters here: cosine and BM25 scores are not comparable (vector-index.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from llm_twin.features.models import Chunk, SearchFilters, SearchHit
from llm_twin.features.service import FeatureService

RRF_K = 60


@dataclass
class Candidate:
    chunk: Chunk
    score: float  # the current stage's score (RRF after fusion, rescoring after rerank)
    fusion: float = 0.0
    dense: float | None = None  # best cosine over the queries' k-NN lists
    lexical: float | None = None  # best BM25 over the lexical lists
    features: dict[str, float] = field(default_factory=dict)


@dataclass
class Retrieval:
    lists: dict[str, list[SearchHit]]  # "dense[i]" / "lexical[i]" → hits, best first
    candidates: list[Candidate]  # fused, best first, unique chunk ids
    latency_ms: dict[str, float]
    vectors: dict[str, list[float]] = field(default_factory=dict)  # query → its embedding


def reciprocal_rank_fusion(
    lists: dict[str, Sequence[SearchHit]], *, k: int = RRF_K, limit: int | None = None
) -> list[Candidate]:
    """Fuse ranked lists; dedupe by chunk id. Ties: better best rank, then chunk id."""
    by_id: dict[str, Candidate] = {}
    best_rank: dict[str, int] = {}
    for name, hits in lists.items():
        for rank, hit in enumerate(hits, 1):
            chunk_id = hit.chunk.chunk_id
            candidate = by_id.get(chunk_id)
            if candidate is None:
                candidate = by_id[chunk_id] = Candidate(chunk=hit.chunk, score=0.0)
            candidate.fusion += 1.0 / (k + rank)
            best_rank[chunk_id] = min(best_rank.get(chunk_id, rank), rank)
            if name.startswith("dense"):
                candidate.dense = max(candidate.dense if candidate.dense is not None else -1.0, hit.score)
            else:
                candidate.lexical = max(candidate.lexical or 0.0, hit.score)
    for candidate in by_id.values():
        candidate.score = candidate.fusion
    ranked = sorted(by_id.values(), key=lambda c: (-c.fusion, best_rank[c.chunk.chunk_id], c.chunk.chunk_id))
    return ranked[:limit] if limit else ranked


def _supports_lexical(index: object) -> bool:
    return callable(getattr(index, "lexical_search", None))


class HybridRetriever:
    def __init__(self, features: FeatureService, *, rrf_k: int = RRF_K, lexical: bool = True) -> None:
        self._features = features
        self._rrf_k = rrf_k
        self._lexical = lexical and _supports_lexical(features.index)

    def retrieve(
        self, queries: Sequence[str], filters: SearchFilters | None, pool: int, notes: list[str] | None = None
    ) -> Retrieval:
        """Per query: one embedding, a filtered k-NN of ``pool``, a filtered BM25 of ``pool``; fused."""
        lists: dict[str, list[SearchHit]] = {}
        vectors: dict[str, list[float]] = {}
        latency = {"embed": 0.0, "knn": 0.0, "lexical": 0.0}
        index = self._features.index
        for i, query in enumerate(queries):
            if not query.strip():
                continue
            start = time.perf_counter()
            vector = vectors[query] = self._features.embedder.embed_query(query)
            latency["embed"] += _ms(start)
            start = time.perf_counter()
            lists[f"dense[{i}]"] = index.search(vector, pool, filters)
            latency["knn"] += _ms(start)
            if self._lexical:
                start = time.perf_counter()
                try:
                    lists[f"lexical[{i}]"] = index.lexical_search(query, pool, filters)
                except NotImplementedError:
                    self._lexical = False
                    if notes is not None:
                        notes.append("retrieval: the index has no lexical search; k-NN only")
                latency["lexical"] += _ms(start)
        start = time.perf_counter()
        candidates = reciprocal_rank_fusion(lists, k=self._rrf_k, limit=pool)
        latency["fusion"] = _ms(start)
        return Retrieval(lists=lists, candidates=candidates, latency_ms=latency, vectors=vectors)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
