"""Stylometry profiles and distances, and the embedding similarity, on crafted texts."""

from __future__ import annotations

import pytest

from tests.evaluate.conftest import HashEmbedder
from training.evaluate.style import (
    embedding_similarities,
    profile,
    profile_distance,
    sentences,
    stylometry,
)

AUTHOR = (
    "Keep the package small. Initialise clients lazily; never at import. "
    "Cold starts hurt, but only on the first request!"
)
FLOWERY = (
    "In the vast and wondrous world of serverless computing, one must always remember that the package "
    "size, which is so often overlooked by developers who are busy with other concerns, matters greatly "
    "for the overall experience of the users who rely on the service every single day"
)


def test_profile_features() -> None:
    p = profile([AUTHOR])
    assert sentences(AUTHOR) == [
        "Keep the package small.",
        "Initialise clients lazily; never at import.",
        "Cold starts hurt, but only on the first request!",
    ]
    assert p["sentence_words_mean"] == pytest.approx((4 + 6 + 9) / 3, abs=1e-3)
    assert p["sentence_words_sd"] > 0
    assert 0 < p["type_token_ratio"] <= 1
    assert p["per_1k_semicolon"] == pytest.approx(1000 / len(AUTHOR), abs=1e-3)
    assert p["per_1k_exclamation"] > 0 and p["per_1k_question"] == 0
    assert profile([]) == profile([""]) and profile([])["sentence_words_mean"] == 0


def test_distance_is_zero_for_the_same_profile_and_grows_with_difference() -> None:
    same = stylometry([AUTHOR], [AUTHOR])
    assert same["distance"] == {"l1": 0.0, "l2": 0.0}
    close = stylometry(["Keep it small. Load clients lazily; not at import. Cold starts hurt!"], [AUTHOR])
    far = stylometry([FLOWERY], [AUTHOR])
    assert 0 < close["distance"]["l1"] < far["distance"]["l1"]
    assert far["distance"]["l2"] >= far["distance"]["l1"]  # RMS >= mean for non-negative values


def test_relative_distance_uses_a_floor_for_absent_features() -> None:
    assert profile_distance({"a": 0.5}, {"a": 0.0}) == {"l1": 0.5, "l2": 0.5}  # divided by the floor 1.0
    assert profile_distance({"a": 20.0}, {"a": 10.0}) == {"l1": 1.0, "l2": 1.0}
    assert profile_distance({}, {}) == {"l1": 0.0, "l2": 0.0}


def test_embedding_similarity_pairs_and_empty_answers() -> None:
    sims = embedding_similarities(HashEmbedder(), [AUTHOR, FLOWERY, ""], [AUTHOR, AUTHOR, AUTHOR])
    assert sims[0] == pytest.approx(1.0) and sims[1] < sims[0] and sims[2] == 0.0
    with pytest.raises(ValueError, match="pair up"):
        embedding_similarities(HashEmbedder(), ["a"], [])
