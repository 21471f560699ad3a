"""EmbeddedIndex (LanceDB): the shared contract, plus what only the embedded adapter has (the
manifest, ANN past a threshold with recall vs exact, FTS freshness, the SQL predicate builder)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llm_twin.errors import InvalidInputError
from llm_twin.features.index import EmbeddedIndex, lance_sql, make_index
from llm_twin.features.models import SearchFilters
from llm_twin.settings import Settings
from tests.features.index_contract import DIM, MODEL, IndexContract, corpus, make_chunk, unit_vectors


class TestEmbeddedContract(IndexContract):
    @pytest.fixture
    def index_settings(self, tmp_path: Path) -> Settings:
        return Settings(home=tmp_path / "home")

    @pytest.fixture
    def open_index(self) -> Any:
        return lambda settings: EmbeddedIndex(settings)


def test_make_index_default_is_embedded_and_lazy(tmp_path: Path) -> None:
    index = make_index(Settings(home=tmp_path / "home"))
    assert isinstance(index, EmbeddedIndex)
    assert not (tmp_path / "home").exists()  # nothing touched before the first call
    assert index.root == (tmp_path / "home" / "index").absolute()


def test_imports_stay_light() -> None:
    code = (
        "import sys, llm_twin.features.index, llm_twin.features.embedding;"
        "from llm_twin.features.index import make_index;"
        "from llm_twin.features.embedding import make_embedder;"
        "heavy = {'lancedb', 'pyarrow', 'torch', 'sentence_transformers', 'opensearchpy', 'numpy'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_manifest_is_the_alias(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    index = EmbeddedIndex(settings)
    info = index.ensure(MODEL, DIM)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["current"] == info.name
    assert manifest["generations"][info.name]["model_name"] == MODEL
    assert manifest["generations"][info.name]["dimension"] == DIM
    assert info.name.startswith("llm-twin-chunks-v") and len(info.name) == len("llm-twin-chunks-v") + 20
    writer = index.create_generation(MODEL, DIM)
    index.activate(writer)
    assert json.loads((tmp_path / "index" / "manifest.json").read_text())["current"] == writer.generation
    assert not list((tmp_path / "index").glob(".manifest-*"))  # no temp file left behind
    # a generation name that is not ours is refused before touching anything
    with pytest.raises(InvalidInputError):
        index.drop_generation("../../etc")


def test_sql_predicate_escapes_quotes() -> None:
    where = lance_sql.where(
        SearchFilters(
            author_ids=["x' OR '1'='1"],
            document_ids=["a", "b'c"],
            published_after=datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        )
    )
    assert where == (
        "(author_id = 'x'' OR ''1''=''1') AND (document_id IN ('a', 'b''c')) "
        "AND (published_at >= TIMESTAMP '2024-01-02 03:04:05.000006+00:00')"
    )
    assert lance_sql.where(SearchFilters(platforms=[])) == "(FALSE)"
    assert lance_sql.where(SearchFilters()) is None
    with pytest.raises(InvalidInputError):
        lance_sql.where(SearchFilters(author_ids=["nul\x00byte"]))


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, dim))
    matrix = centers[rng.integers(0, 20, n)] + 0.8 * rng.normal(size=(n, dim))
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.mark.slow
def test_ann_past_threshold_keeps_recall_and_filters(tmp_path: Path) -> None:
    dim = 32
    index = EmbeddedIndex(Settings(home=tmp_path, index_ann_min_rows=1000))
    index.ensure(MODEL, dim)
    vectors = clustered(3000, dim, seed=1)
    chunks = [
        make_chunk(f"d{i // 10}", i % 10, v, author_id=f"a{i % 7}", text=f"word{i} shared text")
        for i, v in enumerate(vectors)
    ]
    index.upsert(chunks[:900])
    assert not index.has_ann()
    for start in range(900, 3000, 700):
        index.upsert(chunks[start : start + 700])
    assert index.has_ann()
    queries = clustered(30, dim, seed=2)
    recalls = []
    for q, filters in [(q, None) for q in queries[:15]] + [
        (q, SearchFilters(author_ids=["a3"])) for q in queries[15:]
    ]:
        exact = {h.chunk.chunk_id for h in index.search(q.tolist(), 10, filters, exact=True)}
        approx = index.search(q.tolist(), 10, filters)
        recalls.append(len(exact & {h.chunk.chunk_id for h in approx}) / 10)
        for hit in approx:  # refine: the scores are exact cosines
            assert hit.score == pytest.approx(
                float(np.dot(q, vectors[int(hit.chunk.document_id[1:]) * 10 + hit.chunk.chunk_index])),
                abs=1e-4,
            )
    assert np.mean(recalls) >= 0.98
    # a very selective filter on top of the ANN index still returns every match
    assert len(index.search(queries[0].tolist(), 10, SearchFilters(document_ids=["d5"]))) == 10
    assert len(index.search(queries[0].tolist(), 50, SearchFilters(document_ids=["d5", "d6"]))) == 20
    # rows written after the indexes were built are found by both searches right away
    fresh = make_chunk("fresh", 0, queries[1], text="quixotic newcomer")
    index.upsert([fresh])
    assert index.search(queries[1].tolist(), 1)[0].chunk.chunk_id == fresh.chunk_id
    assert index.lexical_search("quixotic", 1)[0].chunk.chunk_id == fresh.chunk_id
    index.optimize()
    assert index.lexical_search("quixotic", 1)[0].chunk.chunk_id == fresh.chunk_id
    assert index.lexical_search("word2999", 3)[0].chunk.chunk_id == chunks[2999].chunk_id


def test_writer_and_reader_processes_share_the_index(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    EmbeddedIndex(settings).ensure(MODEL, DIM)
    reader = EmbeddedIndex(settings)
    assert reader.count() == 0
    code = (
        "import sys; from pathlib import Path; from llm_twin.settings import Settings;"
        "from llm_twin.features.index import EmbeddedIndex;"
        "from tests.features.index_contract import corpus;"
        "EmbeddedIndex(Settings(home=Path(sys.argv[1]))).upsert(corpus())"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=Path(__file__).parents[2])
    assert reader.count() == 24  # the long-lived reader sees the other process's commit
    assert reader.lexical_search("zeppelin", 1)[0].chunk.chunk_id == corpus()[13].chunk_id


def test_unit_length_is_not_required(tmp_path: Path) -> None:
    index = EmbeddedIndex(Settings(home=tmp_path))
    index.ensure(MODEL, DIM)
    v = unit_vectors(2)
    index.upsert([make_chunk("d", 0, v[0] * 10), make_chunk("d", 1, v[1] * 0.01)])
    hits = index.search((v[1] * 5).tolist(), 2)
    assert hits[0].chunk.chunk_id == "d#0001"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_ann_delta_segments_are_folded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_twin.features.index import embedded

    monkeypatch.setattr(embedded, "OPTIMIZE_AFTER_ROWS", 20)
    monkeypatch.setattr(embedded, "MAX_ANN_SEGMENTS", 3)
    index = EmbeddedIndex(Settings(home=tmp_path, index_ann_min_rows=300))
    index.ensure(MODEL, DIM)
    vectors = clustered(500, DIM, seed=3)
    index.upsert([make_chunk(f"d{i}", 0, v) for i, v in enumerate(vectors[:300])])
    table = index._table(index.generation)
    segments = []
    for start in range(300, 500, 25):
        index.upsert([make_chunk(f"d{i}", 0, vectors[i]) for i in range(start, start + 25)])
        segments.append(table.index_stats("vector_idx").num_indices)
    assert max(segments) <= 3 and len(set(segments)) > 1  # deltas grew, then were folded
    index.optimize()
    assert table.index_stats("vector_idx").num_indices == 1
    assert all(i.num_unindexed_rows == 0 for i in table.list_indices())
    hits = index.search(vectors[450].tolist(), 1)
    assert hits[0].chunk.document_id == "d450" and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_a_small_table_is_kept_fully_indexed(tmp_path: Path) -> None:
    """The writer folds new rows into the FTS index once a share of the table is unindexed, so a
    small table is not searched by a flat scan of rows the index never saw."""
    from llm_twin.features.index.embedded import optimize_threshold

    index = EmbeddedIndex(Settings(home=tmp_path))
    index.ensure(MODEL, DIM)
    vectors = unit_vectors(60)
    table = index._table(index.generation)
    for start in range(0, 60, 10):
        index.upsert([make_chunk(f"d{i}", 0, vectors[i]) for i in range(start, start + 10)])
        rows = table.count_rows()
        unindexed = max(i.num_unindexed_rows or 0 for i in table.list_indices())
        assert unindexed < optimize_threshold(rows), (rows, unindexed)
