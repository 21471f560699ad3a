"""Does the local rescoring beat no reranking? The sample author's labeled questions, the real
pipeline (crawl → warehouse → stream → chunk → MiniLM → embedded index), hybrid retrieval (k-NN +
BM25, RRF) with and without :class:`LocalReranker`. No LLM: the original question only."""

from __future__ import annotations

import math
import time

import pytest

from llm_twin.features.factory import feature_service
from llm_twin.features.models import SearchFilters
from llm_twin.rag.hybrid import HybridRetriever
from llm_twin.rag.rerank import LocalReranker, NoReranker
from llm_twin.rag.settings import RagSettings
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from tests.conftest import load_sample_questions

pytestmark = pytest.mark.slow
K = 5
OFF_TOPIC = [
    "What is the capital of Mongolia?",
    "How long should I boil an egg?",
    "Who won the 1998 football world cup?",
]


def metrics(ranked_docs: list[list[str]], questions: list[dict]) -> dict[str, float]:
    """hit@1, MRR@5 (first chunk of a relevant document) and binary nDCG@5 over distinct documents."""
    hit1 = mrr = ndcg = 0.0
    for docs, question in zip(ranked_docs, questions, strict=True):
        relevant = set(question["relevant"])
        first = next((rank for rank, doc in enumerate(docs[:K], 1) if doc in relevant), None)
        hit1 += first == 1
        mrr += 1 / first if first else 0.0
        seen: set[str] = set()
        dcg = 0.0
        for rank, doc in enumerate(docs[:K], 1):
            if doc in relevant and doc not in seen:
                dcg += 1 / math.log2(rank + 1)
            seen.add(doc)
        ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(relevant), K) + 1))
        ndcg += dcg / ideal
    n = len(questions)
    return {"hit@1": hit1 / n, "MRR@5": mrr / n, "nDCG@5": ndcg / n}


def test_local_rescoring_is_not_worse_than_fusion_alone(
    indexed_sample: Settings, site: SampleSite, capsys: pytest.CaptureFixture[str]
) -> None:
    service = feature_service(indexed_sample)
    filters = SearchFilters(author_ids=["nell-harrowgate"])
    retriever = HybridRetriever(service)
    rerankers = {"fusion": NoReranker(), "fusion+rerank": LocalReranker(service)}
    questions = load_sample_questions()
    runs: dict[str, list[list[str]]] = {"dense only": [], **{name: [] for name in rerankers}}
    latency: dict[str, float] = {}
    dense_top: dict[str, list] = {}
    for question in questions:
        query = question["question"]
        dense = dense_top[query] = service.index.search(service.embedder.embed_query(query), K, filters)
        runs["dense only"].append([site.document_for(h.chunk.link) for h in dense])
        retrieval = retriever.retrieve([query], filters, pool=4 * K)
        for stage, ms in retrieval.latency_ms.items():
            latency[stage] = latency.get(stage, 0.0) + ms
        for name, reranker in rerankers.items():
            start = time.perf_counter()
            ranked = reranker.rerank(query, retrieval.candidates, K, query_vector=retrieval.vectors[query])
            latency[name] = latency.get(name, 0.0) + (time.perf_counter() - start) * 1000
            runs[name].append([site.document_for(c.chunk.link) for c in ranked])
    results = {name: metrics(docs, questions) for name, docs in runs.items()}
    with capsys.disabled():
        print(f"\nrerank quality over {len(questions)} questions (k={K}, pool={4 * K}):")
        for name, values in results.items():
            print(f"  {name:14s} " + ", ".join(f"{m} {v:.3f}" for m, v in values.items()))
        per_query = {stage: round(ms / len(questions), 1) for stage, ms in latency.items()}
        print(f"  mean latency per query (ms): {per_query}")
    gate = RagSettings().min_similarity
    best = [max(h.score for h in dense_top[q["question"]]) for q in questions]
    off_topic = [
        max((h.score for h in service.index.search(service.embedder.embed_query(q), K, filters)), default=0)
        for q in OFF_TOPIC
    ]
    with capsys.disabled():
        print(f"  best cosine: labeled min {min(best):.3f}, off-topic max {max(off_topic):.3f} (gate {gate})")
    assert min(best) >= gate > max(off_topic)  # the "nothing relevant" gate separates them
    with_rerank, without = results["fusion+rerank"], results["fusion"]
    assert with_rerank["MRR@5"] >= without["MRR@5"]
    assert with_rerank["MRR@5"] >= results["dense only"]["MRR@5"]
    assert with_rerank["nDCG@5"] >= without["nDCG@5"] - 1e-9
