"""Exact and near-duplicate removal, the language heuristic, and the split by document."""

from __future__ import annotations

import pytest

from tests.datasets.factories import prose
from training.datasets.quality import (
    exact_dedupe,
    looks_english,
    near_dedupe,
    normalise,
    similarity,
    split_documents,
    text_hash,
)


def test_exact_dedupe_uses_the_normalised_text() -> None:
    items = ["Hello,   World!", "hello world", "HELLO — world.", "Goodbye world"]
    kept, removed = exact_dedupe(items, key=lambda s: s)
    assert kept == ["Hello,   World!", "Goodbye world"]
    assert removed == 2
    assert normalise("\uff28\uff45\uff4c\uff4c\uff4f,\tWORLD") == "hello world"  # NFKC: full-width
    assert text_hash("a b", "c") != text_hash("a", "b c")  # parts stay apart


def test_near_duplicates_are_removed_and_distinct_texts_kept() -> None:
    base = prose("base", 300)
    words = base.split()
    edited = " ".join([*words[:150], "inserted", "words", *words[150:]])  # a tiny edit
    rewritten = " ".join(words[:100]) + " " + prose("other", 200)  # shares a third
    different = prose("different", 300)
    kept, removed = near_dedupe([base, edited, rewritten, different], key=lambda s: s, threshold=0.8)
    assert kept == [base, rewritten, different]
    assert removed == 1
    assert similarity(base, edited) > 0.9
    assert similarity(base, different) < 0.05


def test_near_dedupe_threshold_is_respected() -> None:
    base = prose("t", 200)
    words = base.split()
    half = " ".join(words[:100]) + " " + prose("u", 100)  # Jaccard around 0.3
    assert near_dedupe([base, half], key=lambda s: s, threshold=0.8)[1] == 0
    assert near_dedupe([base, half], key=lambda s: s, threshold=0.2)[1] == 1


def test_language_heuristic() -> None:
    assert looks_english(prose("english", 80))
    assert looks_english("Write a short post about why we replaced cron with a scheduler.")
    german = "Der Hund läuft schnell über die Straße, weil er die Katze gesehen hat und sie jagen will."
    assert not looks_english(german)
    assert not looks_english("Кошка сидит на окне и смотрит на улицу, где идёт дождь весь день.")
    salad = "kubernetes lambda dynamodb opensearch bedrock sagemaker terraform docker helm istio envoy"
    assert not looks_english(salad)
    assert looks_english("Short.")  # too little to judge
    fenced = "Run this:\n\n```python\nfor lokal in daten: verarbeite(lokal)\n```\n"
    assert looks_english(fenced)  # code is not judged


def test_split_is_by_document_deterministic_and_stable() -> None:
    ids = [f"doc-{i}" for i in range(200)]
    sides = split_documents(ids, 0.15)
    assert set(sides) == set(ids)
    share = sum(v == "test" for v in sides.values()) / len(ids)
    assert 0.08 < share < 0.22
    assert split_documents(list(reversed(ids)), 0.15) == sides  # order does not matter
    grown = split_documents([*ids, *(f"new-{i}" for i in range(50))], 0.15)
    assert all(grown[d] == sides[d] for d in ids)  # adding documents never moves old ones
    assert split_documents(ids, 0.15, seed="other") != sides


def test_split_keeps_one_document_on_each_side() -> None:
    for n in range(2, 12):
        sides = split_documents([f"d{i}" for i in range(n)], 0.1)
        assert sorted(set(sides.values())) == ["test", "train"], n
    assert split_documents(["only"], 0.5) in ({"only": "train"}, {"only": "test"})
    assert set(split_documents(["a", "b", "c"], 0.0).values()) == {"train"}
    with pytest.raises(ValueError):
        split_documents(["a"], 1.0)
