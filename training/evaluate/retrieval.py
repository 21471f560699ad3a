"""Retrieval metrics on a labeled question set: hit@k, MRR, author-filter precision.

A question is ``{"question": str, "relevant": [document keys]}`` (``llm_twin/sample/questions.jsonl``:
keys are the documents' URL paths on the sample site). For each question the project's retrieval
(``features.retrieval.search_chunks``, filtered k-NN over the caller's index, filtered on the author)
returns the top ``k`` chunks; the rank of the first chunk of a relevant document gives hit@1, hit@k
and MRR (reciprocal rank, 0 when no relevant chunk is in the top k). Author-filter precision is the
share of returned chunks that belong to the filtered author (1.0 when the filter works). On AWS the
evaluation job has no index to reach: the step is skipped and the report says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from llm_twin.features.models import SearchFilters, SearchHit

Search = Callable[[str, int, SearchFilters], list[SearchHit]]
Matcher = Callable[[SearchHit, Sequence[str]], bool]


def _path(text: str) -> str:
    path = urlsplit(text).path if "://" in text else text.split("?")[0]
    return unquote(path).rstrip("/")


def link_matches(hit: SearchHit, relevant: Sequence[str]) -> bool:
    """A hit is relevant when its link's path is a relevant key or lies under one (a repository's files),
    the key taken as is or without its platform prefix (``/medium/@nell/post`` names
    ``https://medium.com/@nell/post``; ``/github/owner/repo`` any page of that repository)."""
    path = _path(hit.chunk.link)
    for key in relevant:
        key = _path(key)
        tail = "/" + key.lstrip("/").partition("/")[2]
        for candidate in (key, tail):
            if len(candidate) > 1 and (path == candidate or path.startswith(candidate + "/")):
                return True
    return False


def load_questions(path: Path | None = None) -> list[dict[str, Any]]:
    """Questions from a JSONL file (default: the sample author's, shipped in ``llm_twin.sample``)."""
    if path is None:
        from importlib.resources import files

        text = files("llm_twin.sample").joinpath("questions.jsonl").read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def retrieval_metrics(
    search: Search,
    questions: Iterable[dict[str, Any]],
    *,
    author_id: str | None,
    k: int = 5,
    matcher: Matcher = link_matches,
) -> dict[str, Any]:
    """hit@1, hit@k, MRR over ``questions`` and the author-filter precision of the returned chunks."""
    filters = SearchFilters(author_ids=[author_id] if author_id else None)
    ranks: list[int | None] = []
    returned = from_author = 0
    misses: list[str] = []
    for question in questions:
        hits = search(question["question"], k, filters)
        rank = next(
            (i for i, hit in enumerate(hits[:k], 1) if matcher(hit, question.get("relevant", []))), None
        )
        ranks.append(rank)
        if rank is None:
            misses.append(question["question"])
        returned += len(hits)
        from_author += sum(1 for hit in hits if author_id is None or hit.chunk.author_id == author_id)
    n = len(ranks)
    if n == 0:
        return {"questions": 0, "k": k, "skipped": "no questions"}
    return {
        "questions": n,
        "k": k,
        "author_id": author_id,
        "hit_at_1": round(sum(r == 1 for r in ranks) / n, 4),
        f"hit_at_{k}": round(sum(r is not None for r in ranks) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
        "author_filter_precision": round(from_author / returned, 4) if returned else None,
        "misses": misses[:20],
    }


def service_search(service: Any) -> Search:
    """``search_chunks`` over a FeatureService (its embedder and index)."""
    from llm_twin.features.retrieval import search_chunks

    def search(query: str, k: int, filters: SearchFilters) -> list[SearchHit]:
        return search_chunks(service, query, k=k, filters=filters)

    return search
