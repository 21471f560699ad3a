"""Retrieval quality on the sample author: the labeled questions in llm_twin/sample/questions.jsonl
against the real pipeline (crawl → warehouse → stream → chunk → MiniLM → embedded index)."""

from __future__ import annotations

import pytest

from llm_twin.features.factory import feature_service
from llm_twin.features.models import SearchFilters
from llm_twin.features.retrieval import search_chunks
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from tests.conftest import load_sample_questions

# Measured when written: hit@1 0.944, hit@5 1.000, MRR 0.972 (36 questions). Below a floor = regression.
HIT_AT_5_FLOOR = 0.9
HIT_AT_1_FLOOR = 0.8


def test_hit_at_5_on_the_sample_questions(
    indexed_sample: Settings, site: SampleSite, capsys: pytest.CaptureFixture[str]
) -> None:
    service = feature_service(indexed_sample)
    filters = SearchFilters(author_ids=["nell-harrowgate"])
    questions = load_sample_questions()
    ranks = [first_relevant_rank(service, site, question, filters) for question in questions]
    hit_at_1 = sum(rank == 1 for rank in ranks) / len(ranks)
    hit_at_5 = sum(rank is not None for rank in ranks) / len(ranks)
    mrr = sum(1 / rank for rank in ranks if rank) / len(ranks)
    with capsys.disabled():
        print(
            f"\nretrieval over {len(ranks)} questions: "
            f"hit@1 {hit_at_1:.3f}, hit@5 {hit_at_5:.3f}, MRR {mrr:.3f}"
        )
    misses = [q["question"] for q, rank in zip(questions, ranks, strict=True) if rank is None]
    assert hit_at_5 >= HIT_AT_5_FLOOR, misses
    assert hit_at_1 >= HIT_AT_1_FLOOR


def first_relevant_rank(service, site: SampleSite, question: dict, filters: SearchFilters) -> int | None:
    """1-based rank of the first chunk from a relevant document among the top 5, or None."""
    results = search_chunks(service, question["question"], k=5, filters=filters)
    relevant = set(question["relevant"])
    for rank, hit in enumerate(results, 1):
        if site.document_for(hit.chunk.link) in relevant:
            return rank
    return None
