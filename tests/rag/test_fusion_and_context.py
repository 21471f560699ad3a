from __future__ import annotations

import pytest

from llm_twin.features.models import Chunk, SearchHit
from llm_twin.features.tokens import default_counter
from llm_twin.rag.bedrock_rerank import BedrockReranker
from llm_twin.rag.context import assemble_context
from llm_twin.rag.hybrid import Candidate, HybridRetriever, reciprocal_rank_fusion
from llm_twin.rag.rerank import LocalReranker, NoReranker, Reranker, RescoreWeights
from llm_twin.settings import Settings
from tests.rag.fakes import chunk

LONG = " ".join(f"word{i} is part of a long paragraph about retrieval budgets." for i in range(60))


def c(doc: str, index: int, text: str = "some text") -> Chunk:
    return Chunk(**chunk("Ada Quill", doc, index, text))


def hits(*chunks: Chunk) -> list[SearchHit]:
    return [SearchHit(chunk=x, score=1.0 - i / 10) for i, x in enumerate(chunks)]


def test_rrf_sums_reciprocal_ranks_and_dedupes() -> None:
    a, b, d = c("a", 0), c("b", 0), c("d", 0)
    fused = reciprocal_rank_fusion({"dense[0]": hits(a, b), "lexical[0]": hits(b, d), "dense[1]": hits(b, a)})
    assert [x.chunk.chunk_id for x in fused] == ["b#0000", "a#0000", "d#0000"]
    assert fused[0].fusion == pytest.approx(1 / 62 + 1 / 61 + 1 / 61)
    assert fused[0].dense == pytest.approx(1.0) and fused[0].lexical == pytest.approx(1.0)
    assert fused[2].dense is None
    assert len(reciprocal_rank_fusion({"dense[0]": hits(a, b, d)}, limit=2)) == 2


def test_hybrid_runs_knn_per_query_and_one_bm25(features) -> None:
    result = HybridRetriever(features).retrieve(["sourdough starter", "kafka lag"], None, pool=4)
    assert set(result.lists) == {"dense[0]", "dense[1]", "lexical"}
    ids = [x.chunk.chunk_id for x in result.candidates]
    assert len(ids) == len(set(ids)) <= 4
    assert {"embed", "knn", "lexical", "fusion"} <= set(result.latency_ms)


def test_rerankers_satisfy_the_port(features) -> None:
    local = LocalReranker(features)
    for reranker in (local, NoReranker(), BedrockReranker(Settings(), local)):
        assert isinstance(reranker, Reranker)
    assert BedrockReranker(Settings(), local).rerank("q", [], 3) == []  # no candidates: no call


def test_local_rescoring_prefers_the_matching_chunk_and_diversifies(features) -> None:
    candidates = (
        HybridRetriever(features).retrieve(["sourdough starter feeding rye"], None, pool=5).candidates
    )
    ranked = LocalReranker(features).rerank("sourdough starter feeding rye", candidates, 3)
    assert ranked[0].chunk.chunk_id == "ada-sourdough#0000"
    assert {"dense", "lexical", "title", "fusion"} == set(ranked[0].features)
    assert len({x.chunk.document_id for x in ranked}) == 2  # weak penalty: the loaf chunk still ranks
    diverse = LocalReranker(features, RescoreWeights(diversity_penalty=1.0)).rerank(
        "sourdough starter feeding rye", candidates, 3
    )
    assert len({x.chunk.document_id for x in diverse}) == 3  # another document before a second chunk


@pytest.mark.parametrize("budget", [100, 200, 400, 1200])
def test_context_stays_within_budget(budget: int) -> None:
    counter = default_counter()
    candidates = [Candidate(chunk=c(f"doc{i % 3}", i, LONG[: 300 + 40 * i]), score=1.0) for i in range(8)]
    context = assemble_context(candidates, counter, budget)
    assert context.groups
    assert context.tokens == counter.count(context.text) <= budget


def test_context_groups_chunks_of_a_document_under_one_header() -> None:
    ranked = [
        Candidate(chunk=x, score=1.0)
        for x in (c("a", 2, "two"), c("b", 0, "bee"), c("a", 1, "one"), c("a", 5, "five"))
    ]
    context = assemble_context(ranked, default_counter(), 500)
    assert context.text == (
        "[1] A — https://example.com/a\none\ntwo\n…\nfive\n\n[2] B — https://example.com/b\nbee"
    )
    assert context.number_of("b#0000") == 2


def test_a_first_chunk_too_long_is_cut_not_dropped() -> None:
    context = assemble_context([Candidate(chunk=c("a", 0, LONG * 3), score=1.0)], default_counter(), 120)
    assert context.groups and context.tokens <= 120 and context.text.endswith("…")
