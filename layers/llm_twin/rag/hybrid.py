"""Hybrid retrieval: filtered k-NN and BM25 per query, merged by reciprocal rank fusion.

RRF (Cormack et al., 2009): ``score(d) = Σ_lists 1 / (k + rank_list(d))`` with k = 60. It needs no
score calibration, which matters here: cosine and BM25 scores are not comparable (vector-index.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from llm_twin.features.models import Chunk, SearchFilters, SearchHit
from llm_twin.features.service import FeatureService

RRF_K = 60
SEARCH_THREADS = 8  # a question + 3 expansions, k-NN and BM25 each


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
        """All queries embedded in one call; per query a filtered k-NN and a filtered BM25 of ``pool``,
        all searches at once (they are independent round trips: threads, not sequence); fused."""
        texts = list(dict.fromkeys(q for q in queries if q.strip()))
        latency = {"embed": 0.0, "knn": 0.0, "lexical": 0.0, "search": 0.0}
        if not texts:
            return Retrieval(lists={}, candidates=[], latency_ms={**latency, "fusion": 0.0})
        start = time.perf_counter()
        vectors = dict(zip(texts, self._features.embedder.embed_queries(texts), strict=True))
        latency["embed"] = _ms(start)
        index = self._features.index
        searches: dict[str, Callable[[], list[SearchHit]]] = {}
        for i, query in enumerate(queries):
            if query in vectors:
                searches[f"dense[{i}]"] = lambda v=vectors[query]: index.search(v, pool, filters)
                if self._lexical:
                    searches[f"lexical[{i}]"] = lambda q=query: index.lexical_search(q, pool, filters)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(SEARCH_THREADS, len(searches))) as executor:
            futures = {name: executor.submit(_timed, search) for name, search in searches.items()}
        latency["search"] = _ms(start)
        lists: dict[str, list[SearchHit]] = {}
        for name, future in futures.items():
            try:
                hits, ms = future.result()
            except NotImplementedError:
                if self._lexical and notes is not None:
                    notes.append("retrieval: the index has no lexical search; k-NN only")
                self._lexical = False
                continue
            lists[name] = hits
            latency["knn" if name.startswith("dense") else "lexical"] += ms
        start = time.perf_counter()
        candidates = reciprocal_rank_fusion(lists, k=self._rrf_k, limit=pool)
        latency["fusion"] = _ms(start)
        return Retrieval(lists=lists, candidates=candidates, latency_ms=latency, vectors=vectors)


def _timed(search: Callable[[], list[SearchHit]]) -> tuple[list[SearchHit], float]:
    start = time.perf_counter()
    return search(), _ms(start)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
