import itertools

import pytest
from kerf import chunk_text
from kerf.split import pack, split_to_fit

PARAGRAPH = (
    "Stream processing is at least once. Every record can arrive twice. "
    "Design the write so that the second time is boring. "
)


def test_short_text_is_one_chunk():
    chunks = chunk_text("One short paragraph.", max_tokens=50, overlap=5)
    assert [c.text for c in chunks] == ["One short paragraph."]
    assert chunks[0].index == 0


def test_every_chunk_fits_the_budget():
    text = "\n\n".join(PARAGRAPH * 3 for _ in range(10))
    chunks = chunk_text(text, max_tokens=60, overlap=10)
    assert len(chunks) > 1
    assert all(c.token_estimate <= 60 for c in chunks)


def test_neighbours_overlap_by_whole_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = chunk_text(text, max_tokens=40, overlap=10)
    for before, after in itertools.pairwise(chunks):
        first_sentence = after.text.split(". ")[0]
        assert first_sentence in before.text


def test_split_to_fit_keeps_every_character():
    text = PARAGRAPH * 20
    pieces = split_to_fit(text, max_tokens=25)
    assert "".join(pieces) == text


def test_a_word_longer_than_the_budget_is_cut():
    pieces = split_to_fit("x" * 100, max_tokens=5)
    assert "".join(pieces) == "x" * 100
    assert all(len(p) <= 20 for p in pieces)


def test_pack_without_overlap_never_repeats():
    assert pack(["aaa ", "bbb ", "ccc "], max_tokens=1, overlap=0) == ["aaa", "bbb", "ccc"]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_limits_are_rejected(max_tokens, overlap):
    with pytest.raises(ValueError):
        chunk_text("text", max_tokens=max_tokens, overlap=overlap)
