"""The VectorIndex contract, as a reusable test class.

Subclass :class:`IndexContract` in a test module and provide two fixtures:

- ``index_settings``: fresh ``Settings`` naming an empty logical index (own folder / own alias);
- ``open_index``: ``open_index(settings) -> index``, a new adapter object on that storage (calling it
  twice with the same settings is "re-opening" the index).

Every check compares the adapter against a plain-Python oracle over a small corpus of seeded random
unit vectors: same hits, same order, same scores (cosine similarity), same filter semantics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from llm_twin.domain.models import Category, Platform
from llm_twin.errors import IndexMismatchError, InvalidInputError
from llm_twin.features.index import VectorIndexError
from llm_twin.features.models import Chunk, IndexedChunk, SearchFilters, chunk_id
from llm_twin.features.ports import VectorIndex
from llm_twin.settings import Settings

DIM = 16
MODEL = "test/model-a"
HOSTILE_AUTHOR = "x' OR '1'='1"
WEIRD_AUTHOR = 'o\'brien "q" \\ % _ é'
HOSTILE_DOC = "doc' OR document_id != '"
KEYWORD_TEXT = "the zeppelin hovered over the harbour"

OpenIndex = Callable[[Settings], Any]


def unit_vectors(n: int, dim: int = DIM, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n, dim))
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def make_chunk(
    document_id: str,
    index: int,
    vector: Sequence[float],
    *,
    author_id: str = "alice",
    platform: Platform = Platform.MEDIUM,
    category: Category = Category.ARTICLE,
    published_at: datetime | None = None,
    text: str | None = None,
    content_hash: str = "hash-1",
    section: str | None = None,
) -> IndexedChunk:
    body = text or f"chunk {index} of {document_id} about writing software"
    return IndexedChunk(
        chunk_id=chunk_id(document_id, index),
        document_id=document_id,
        chunk_index=index,
        author_id=author_id,
        author_name=f"Name of {author_id}",
        platform=platform,
        category=category,
        link=f"https://example.com/{document_id}",
        title=f"Title of {document_id}",
        section=section,
        text=body,
        embed_text=f"Title of {document_id}\n\n{body}",
        content_hash=content_hash,
        published_at=published_at,
        vector=[float(x) for x in vector],
    )


def corpus() -> list[IndexedChunk]:
    """24 chunks in 8 documents: authors (incl. hostile ids), platforms, categories, dates."""
    vectors = unit_vectors(24)
    docs: list[dict[str, Any]] = [
        {"author_id": "alice", "platform": Platform.MEDIUM, "category": Category.ARTICLE, "day": 1},
        {"author_id": "alice", "platform": Platform.SUBSTACK, "category": Category.ARTICLE, "day": 40},
        {"author_id": "bob", "platform": Platform.GITHUB, "category": Category.REPOSITORY, "day": 80},
        {"author_id": "bob", "platform": Platform.LINKEDIN, "category": Category.POST, "day": None},
        {"author_id": HOSTILE_AUTHOR, "platform": Platform.BLOG, "category": Category.ARTICLE, "day": 120},
        {"author_id": WEIRD_AUTHOR, "platform": Platform.LINKEDIN, "category": Category.POST, "day": 160},
        {"author_id": "carol", "platform": Platform.MEDIUM, "category": Category.POST, "day": 200},
        {"author_id": "carol", "platform": Platform.GITHUB, "category": Category.REPOSITORY, "day": 240},
    ]
    chunks = []
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for d, doc in enumerate(docs):
        document_id = HOSTILE_DOC if d == 4 else f"doc-{d}"
        for i in range(3):
            n = 3 * d + i
            text = KEYWORD_TEXT if n == 13 else ("he was running late again" if n == 20 else None)
            chunks.append(
                make_chunk(
                    document_id,
                    i,
                    vectors[n],
                    author_id=doc["author_id"],
                    platform=doc["platform"],
                    category=doc["category"],
                    published_at=None if doc["day"] is None else start + timedelta(days=doc["day"], hours=i),
                    text=text,
                    section=f"Section {i}" if i else None,
                )
            )
    return chunks


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are UTC (the documented convention of both adapters)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def matches(chunk: Chunk, filters: SearchFilters | None) -> bool:
    """The filter semantics every adapter must implement (the oracle)."""
    if filters is None:
        return True
    checks = [
        (filters.author_ids, chunk.author_id),
        (filters.platforms, chunk.platform),
        (filters.categories, chunk.category),
        (filters.document_ids, chunk.document_id),
    ]
    if any(allowed is not None and value not in allowed for allowed, value in checks):
        return False
    if filters.published_after is not None or filters.published_before is not None:
        if chunk.published_at is None:
            return False
        published = as_utc(chunk.published_at)
        if filters.published_after is not None and published < as_utc(filters.published_after):
            return False
        if filters.published_before is not None and published >= as_utc(filters.published_before):
            return False
    return True


def expected_knn(
    chunks: Sequence[IndexedChunk], query: Sequence[float], k: int, filters: SearchFilters | None = None
) -> list[tuple[str, float]]:
    q = np.asarray(query, dtype=np.float64)
    q = q / np.linalg.norm(q)
    scored = [
        (c.chunk_id, float(np.dot(q, np.asarray(c.vector) / np.linalg.norm(c.vector))))
        for c in chunks
        if matches(c, filters)
    ]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:k]


FILTER_CASES: dict[str, SearchFilters] = {
    "author": SearchFilters(author_ids=["bob"]),
    "authors": SearchFilters(author_ids=["alice", "carol"]),
    "hostile author": SearchFilters(author_ids=[HOSTILE_AUTHOR]),
    "weird author": SearchFilters(author_ids=[WEIRD_AUTHOR]),
    "platform": SearchFilters(platforms=[Platform.LINKEDIN]),
    "platforms": SearchFilters(platforms=[Platform.GITHUB, Platform.SUBSTACK]),
    "category": SearchFilters(categories=[Category.POST]),
    "document": SearchFilters(document_ids=["doc-2"]),
    "hostile document": SearchFilters(document_ids=[HOSTILE_DOC]),
    "after (inclusive)": SearchFilters(published_after=datetime(2024, 5, 30, tzinfo=UTC)),
    "before (exclusive)": SearchFilters(published_before=datetime(2024, 2, 10, tzinfo=UTC)),
    "date range, other zone": SearchFilters(
        published_after=datetime(2024, 2, 9, 19, tzinfo=timezone(timedelta(hours=-5))),
        published_before=datetime(2024, 6, 9, tzinfo=UTC),
    ),
    "naive date = UTC": SearchFilters(published_after=datetime(2024, 8, 28)),
    "combined": SearchFilters(
        author_ids=["alice", "bob", "carol"],
        platforms=[Platform.GITHUB, Platform.MEDIUM],
        categories=[Category.REPOSITORY],
        published_after=datetime(2024, 3, 1, tzinfo=UTC),
    ),
    "empty list matches nothing": SearchFilters(author_ids=[]),
    "no match": SearchFilters(author_ids=["nobody"], platforms=[Platform.BLOG]),
    "all None": SearchFilters(),
}


class IndexContract:
    """Checks every VectorIndex adapter must pass (see the module docstring for the fixtures)."""

    # --- helpers ----------------------------------------------------------------------------------
    @pytest.fixture
    def index(self, index_settings: Settings, open_index: OpenIndex) -> Any:
        return open_index(index_settings)

    @pytest.fixture
    def loaded(self, index: Any) -> Any:
        index.ensure(MODEL, DIM)
        index.upsert(corpus())
        return index

    @staticmethod
    def ids_scores(hits: Sequence[Any]) -> list[tuple[str, float]]:
        return [(hit.chunk.chunk_id, hit.score) for hit in hits]

    def assert_same(self, hits: Sequence[Any], expected: list[tuple[str, float]]) -> None:
        assert [h.chunk.chunk_id for h in hits] == [cid for cid, _ in expected]
        for hit, (_, score) in zip(hits, expected, strict=True):
            assert hit.score == pytest.approx(score, abs=1e-4)

    # --- lifecycle --------------------------------------------------------------------------------
    def test_protocol_and_empty_index(self, index: Any) -> None:
        assert isinstance(index, VectorIndex)
        assert index.info() is None
        assert index.count() == 0
        assert index.search([1.0] * DIM, 5) == []
        assert index.lexical_search("zeppelin", 5) == []
        assert index.search_many([[1.0] * DIM, [0.5] * DIM], 5) == [[], []]
        assert index.document_hash("doc-0") is None
        assert index.delete_document("doc-0") == 0
        with pytest.raises(VectorIndexError, match="ensure"):
            index.upsert(corpus()[:1])

    def test_ensure_creates_then_checks_model_and_dimension(self, index: Any) -> None:
        info = index.ensure(MODEL, DIM)
        assert (info.model_name, info.dimension, info.chunks) == (MODEL, DIM, 0)
        assert index.ensure(MODEL, DIM).name == info.name
        assert index.info() == info
        with pytest.raises(IndexMismatchError, match="rebuild"):
            index.ensure("test/another-model", DIM)
        with pytest.raises(IndexMismatchError):
            index.ensure(MODEL, DIM * 2)

    def test_vectors_of_another_dimension_are_refused(self, loaded: Any) -> None:
        with pytest.raises(IndexMismatchError):
            loaded.upsert([make_chunk("doc-x", 0, [1.0] * (DIM + 1))])
        with pytest.raises(IndexMismatchError):
            loaded.search([1.0] * (DIM - 1), 3)
        with pytest.raises(InvalidInputError):
            loaded.search([0.0] * DIM, 3)
        with pytest.raises(InvalidInputError):
            loaded.search([1.0] * DIM, 0)

    # --- k-NN -------------------------------------------------------------------------------------
    def test_search_is_best_first_with_cosine_scores(self, loaded: Any) -> None:
        chunks = corpus()
        for seed in range(5):
            query = unit_vectors(1, seed=100 + seed)[0] * 3.0  # not unit length on purpose
            self.assert_same(loaded.search(query.tolist(), 5), expected_knn(chunks, query, 5))
        exact = chunks[7]
        hits = loaded.search(exact.vector, 1)
        assert hits[0].chunk.chunk_id == exact.chunk_id
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)

    def test_search_many_is_one_search_per_vector(self, loaded: Any) -> None:
        """A question and its rewrites in one call: the same lists as one search each, in order,
        with filters applied to every one."""
        queries = [(unit_vectors(1, seed=200 + seed)[0] * 2.0).tolist() for seed in range(4)]
        filters = SearchFilters(author_ids=["alice"])
        for many, query in zip(loaded.search_many(queries, 4, filters), queries, strict=True):
            self.assert_same(many, self.ids_scores(loaded.search(query, 4, filters)))
            assert all(hit.chunk.author_id == "alice" for hit in many)
        (single,) = loaded.search_many(queries[:1], 3)
        self.assert_same(single, self.ids_scores(loaded.search(queries[0], 3)))
        assert loaded.search_many([], 3) == []

    def test_k_larger_than_the_index_returns_everything(self, loaded: Any) -> None:
        hits = loaded.search(unit_vectors(1, seed=3)[0].tolist(), 100)
        assert len(hits) == 24
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_chunks_round_trip(self, loaded: Any) -> None:
        """Every payload field comes back as written (dates as aware UTC datetimes)."""
        for original in corpus():
            hits = loaded.search(original.vector, 1, SearchFilters(document_ids=[original.document_id]))
            assert hits[0].chunk.chunk_id == original.chunk_id
            assert hits[0].chunk == Chunk.model_validate(original.model_dump(exclude={"vector"}))
            published = hits[0].chunk.published_at
            assert published is None or published.utcoffset() == timedelta(0)

    @pytest.mark.parametrize("case", list(FILTER_CASES))
    def test_filters(self, loaded: Any, case: str) -> None:
        filters = FILTER_CASES[case]
        chunks = corpus()
        query = unit_vectors(1, seed=42)[0]
        expected = expected_knn(chunks, query, 100, filters)
        self.assert_same(loaded.search(query.tolist(), 100, filters), expected)
        assert loaded.count(filters) == len(expected)
        lexical = loaded.lexical_search("software writing zeppelin running", 100, filters)
        assert {h.chunk.chunk_id for h in lexical} <= {cid for cid, _ in expected}
        assert all(matches(h.chunk, filters) for h in lexical)

    def test_selective_filter_never_cuts_results_short(self, loaded: Any) -> None:
        query = corpus()[0].vector  # the nearest chunks are alice's, the filter wants carol's
        filters = SearchFilters(author_ids=["carol"])
        assert len(loaded.search(query, 4, filters)) == 4
        assert len(loaded.search(query, 10, SearchFilters(document_ids=["doc-7"]))) == 3

    # --- writes -----------------------------------------------------------------------------------
    def test_upsert_overwrites_by_chunk_id(self, loaded: Any) -> None:
        chunks = corpus()
        new_vector = unit_vectors(1, seed=999)[0]
        replaced = make_chunk(
            "doc-1", 2, new_vector, text="a completely rewritten chunk", content_hash="hash-2"
        )
        loaded.upsert([replaced, replaced])  # twice in one batch, and over an existing id
        assert loaded.count() == 24
        (hit,) = loaded.search(new_vector.tolist(), 1)
        assert (hit.chunk.chunk_id, hit.chunk.text) == (replaced.chunk_id, "a completely rewritten chunk")
        loaded.upsert(chunks)  # re-indexing everything is idempotent
        assert loaded.count() == 24
        assert loaded.search(new_vector.tolist(), 1)[0].chunk.text != "a completely rewritten chunk"

    def test_delete_document_removes_exactly_its_chunks(self, loaded: Any) -> None:
        assert loaded.delete_document("doc-2") == 3
        assert loaded.count() == 21
        assert loaded.count(SearchFilters(document_ids=["doc-2"])) == 0
        assert loaded.delete_document("doc-2") == 0
        assert loaded.delete_document("doc-") == 0  # no prefix matching
        keep = [chunk_id("doc-3", 0), chunk_id("doc-3", 2)]
        assert loaded.delete_document("doc-3", keep=keep) == 1
        remaining = loaded.search([1.0] * DIM, 10, SearchFilters(document_ids=["doc-3"]))
        assert sorted(h.chunk.chunk_id for h in remaining) == keep
        assert loaded.delete_document(HOSTILE_DOC) == 3
        assert loaded.count() == 24 - 3 - 1 - 3

    def test_document_hash(self, loaded: Any) -> None:
        assert loaded.document_hash("doc-0") == "hash-1"
        assert loaded.document_hash(HOSTILE_DOC) == "hash-1"
        assert loaded.document_hash("missing") is None
        chunk = corpus()[1]
        loaded.upsert([chunk.model_copy(update={"content_hash": "hash-2"})])
        assert loaded.document_hash("doc-0") is None  # mixed hashes: a half-done re-index, index again
        loaded.upsert([c.model_copy(update={"content_hash": "hash-2"}) for c in corpus()[:3]])
        assert loaded.document_hash("doc-0") == "hash-2"

    def test_batched_lookup_and_delete(self, loaded: Any) -> None:
        found = loaded.indexed_documents(["doc-0", HOSTILE_DOC, "missing", "doc-0"])
        assert {doc: (d.content_hash, d.chunks) for doc, d in found.items()} == {
            "doc-0": ("hash-1", 3),
            HOSTILE_DOC: ("hash-1", 3),
        }
        assert loaded.indexed_documents([]) == {}
        keep = [chunk_id("doc-3", 1)]
        assert loaded.delete_documents(["doc-2", "doc-3", "missing"], keep=keep) == 3 + 2
        assert set(loaded.indexed_documents(["doc-2", "doc-3"])) == {"doc-3"}
        assert loaded.indexed_documents(["doc-3"])["doc-3"].chunks == 1
        assert loaded.delete_documents([]) == 0
        assert loaded.count() == 24 - 5

    # --- lexical ----------------------------------------------------------------------------------
    def test_lexical_ranks_the_keyword_match_first(self, loaded: Any) -> None:
        hits = loaded.lexical_search("zeppelin", 5)
        assert [h.chunk.chunk_id for h in hits] == [corpus()[13].chunk_id]
        assert hits[0].score > 0
        hits = loaded.lexical_search("Zeppelin harbour software", 5)
        assert hits[0].chunk.chunk_id == corpus()[13].chunk_id
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert loaded.lexical_search("runs", 5)[0].chunk.chunk_id == corpus()[20].chunk_id  # stemming
        assert loaded.lexical_search("zeppelin", 5, SearchFilters(author_ids=["alice"])) == []
        assert loaded.lexical_search("   ", 5) == []

    def test_lexical_query_is_never_parsed(self, loaded: Any) -> None:
        for query in ["x' OR '1'='1", 'text:"zeppelin" AND (', "zeppelin*", "-- ; DROP TABLE"]:
            hits = loaded.lexical_search(query, 5)
            assert all(h.chunk.chunk_id == corpus()[13].chunk_id for h in hits if "zeppelin" in query)

    def test_count(self, loaded: Any) -> None:
        assert loaded.count() == 24
        assert loaded.info().chunks == 24
        assert loaded.count(SearchFilters(platforms=[Platform.LINKEDIN])) == 6

    # --- durability and rebuilds ------------------------------------------------------------------
    def test_persists_across_reopen(
        self, loaded: Any, index_settings: Settings, open_index: OpenIndex
    ) -> None:
        reopened = open_index(index_settings)
        assert reopened.info() == loaded.info()
        query = unit_vectors(1, seed=5)[0].tolist()
        assert self.ids_scores(reopened.search(query, 5)) == self.ids_scores(loaded.search(query, 5))
        assert reopened.document_hash("doc-1") == "hash-1"

    def test_generations_rebuild_and_switch(
        self, loaded: Any, index_settings: Settings, open_index: OpenIndex
    ) -> None:
        old = loaded.info().name
        writer = loaded.create_generation("test/model-b", 8)
        assert writer.generation != old and writer.generation in loaded.generations()
        assert old in loaded.generations()
        info = writer.ensure("test/model-b", 8)
        assert (info.model_name, info.dimension, info.chunks) == ("test/model-b", 8, 0)
        small = [make_chunk(f"new-{i}", 0, v, author_id="dave") for i, v in enumerate(unit_vectors(5, dim=8))]
        writer.upsert(small)
        # readers still see the old generation
        assert loaded.info().name == old and loaded.count() == 24
        assert writer.count() == 5
        assert loaded.activate(writer) == old
        reader = open_index(index_settings)
        for index in (loaded, reader):
            assert index.info().name == writer.generation
            assert index.count() == 5
            assert index.ensure("test/model-b", 8).chunks == 5
            with pytest.raises(IndexMismatchError):
                index.ensure(MODEL, DIM)
            assert index.search(small[3].vector, 1)[0].chunk.chunk_id == small[3].chunk_id
        with pytest.raises(InvalidInputError, match="current"):
            loaded.drop_generation(writer.generation)
        loaded.drop_generation(old)
        assert old not in loaded.generations()
        assert loaded.generations() == [writer.generation]
        with pytest.raises(InvalidInputError):
            loaded.drop_generation("someone-elses-index")
        with pytest.raises((VectorIndexError, InvalidInputError)):
            loaded.activate(f"{index_settings.index_name}-v20000101000000000000")
        assert loaded.activate(writer.generation) == writer.generation  # idempotent

    def test_exact_search_agrees(self, loaded: Any) -> None:
        query = unit_vectors(1, seed=77)[0].tolist()
        filters = SearchFilters(categories=[Category.ARTICLE, Category.POST])
        approx = self.ids_scores(loaded.search(query, 6, filters))
        exact = self.ids_scores(loaded.search(query, 6, filters, exact=True))
        assert [i for i, _ in approx] == [i for i, _ in exact]
        assert all(math.isclose(a, b, abs_tol=1e-4) for (_, a), (_, b) in zip(approx, exact, strict=True))
