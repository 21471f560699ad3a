"""Retrieval metrics over a scripted search: ranks, MRR, author-filter precision, link matching."""

from __future__ import annotations

from llm_twin.features.models import Chunk, SearchFilters, SearchHit
from training.evaluate.retrieval import link_matches, load_questions, retrieval_metrics


def _hit(link: str, author: str = "nell-harrowgate") -> SearchHit:
    chunk = Chunk(
        chunk_id=link,
        document_id=link,
        chunk_index=0,
        author_id=author,
        author_name=author,
        platform="medium",
        category="article",
        link=link,
        title="t",
        text="x",
        embed_text="x",
        content_hash="h",
    )
    return SearchHit(chunk=chunk, score=1.0)


def test_link_matching_rules() -> None:
    assert link_matches(
        _hit("http://127.0.0.1:8000/medium/@nell/post-1?source=rss"), ["/medium/@nell/post-1"]
    )
    assert (
        link_matches(_hit("https://github.com/nell/repo/blob/main/README.md"), ["/github/nell/repo"]) is True
    )
    assert link_matches(
        _hit("http://127.0.0.1:8000/github/nell/repo/blob/main/README.md"), ["/github/nell/repo"]
    )
    assert link_matches(
        _hit("https://www.linkedin.com/feed/update/urn:li:share:1"),
        ["/linkedin/feed/update/urn%3Ali%3Ashare%3A1"],
    )
    assert not link_matches(_hit("http://h/medium/@nell/post-2"), ["/medium/@nell/post-1"])


def test_metrics_on_scripted_results() -> None:
    results = {
        "q1": [_hit("http://h/a"), _hit("http://h/b")],  # rank 1
        "q2": [_hit("http://h/x"), _hit("http://h/b", author="someone-else")],  # rank 2
        "q3": [_hit("http://h/x")],  # miss
    }
    seen: list[SearchFilters] = []

    def search(query: str, k: int, filters: SearchFilters) -> list[SearchHit]:
        seen.append(filters)
        return results[query][:k]

    questions = [
        {"question": "q1", "relevant": ["/a"]},
        {"question": "q2", "relevant": ["/b"]},
        {"question": "q3", "relevant": ["/c"]},
    ]
    metrics = retrieval_metrics(search, questions, author_id="nell-harrowgate", k=5)
    assert metrics["hit_at_1"] == round(1 / 3, 4)
    assert metrics["hit_at_5"] == round(2 / 3, 4)
    assert metrics["mrr"] == round((1 + 0.5) / 3, 4)
    assert metrics["author_filter_precision"] == 0.8  # 4 of 5 returned chunks are the author's
    assert metrics["misses"] == ["q3"]
    assert seen[0].author_ids == ["nell-harrowgate"]
    assert retrieval_metrics(search, [], author_id=None)["skipped"] == "no questions"


def test_the_sample_questions_load() -> None:
    questions = load_questions()
    assert len(questions) >= 30 and all(q["question"] and q["relevant"] for q in questions)


def test_metrics_on_the_indexed_sample_author(indexed_sample, site, capsys) -> None:
    """The real pipeline (crawl -> chunks -> MiniLM -> local index) and the labeled questions: the default
    link matcher agrees with the sample site's own document mapping."""
    from llm_twin.features.factory import feature_service
    from training.evaluate.retrieval import service_search

    search = service_search(feature_service(indexed_sample))
    questions = load_questions()
    metrics = retrieval_metrics(search, questions, author_id="nell-harrowgate", k=5)

    def by_site(hit: SearchHit, relevant: list[str]) -> bool:
        return site.document_for(hit.chunk.link) in set(relevant)

    assert retrieval_metrics(search, questions, author_id="nell-harrowgate", matcher=by_site) == metrics
    with capsys.disabled():
        print(f"\nretrieval metrics: { ({k: v for k, v in metrics.items() if k != 'misses'}) }")
    assert metrics["hit_at_5"] >= 0.9 and metrics["mrr"] >= 0.8
    assert metrics["author_filter_precision"] == 1.0
