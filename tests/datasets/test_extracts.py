"""Documents → extracts: bounded, paragraph-aligned, deterministic; posts and repositories."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from llm_twin.domain.models import Category, Platform
from tests.datasets.factories import document, prose
from training.datasets.extracts import (
    ExtractConfig,
    count_words,
    document_extracts,
    extract_documents,
    pack_groups,
)


def test_long_article_is_packed_into_even_bounded_paragraph_aligned_extracts() -> None:
    content = "# Title\n\n" + prose("a", 900) + "\n\n## Second part\n\n" + prose("b", 300)
    doc = document("long", content)
    config = ExtractConfig(min_words=120, max_words=400)
    extracts = document_extracts(doc, config)

    assert len(extracts) >= 3
    assert all(120 <= e.words <= 400 for e in extracts)
    paragraphs = {p.strip() for p in content.split("\n\n")}
    for extract in extracts:  # every extract is whole blocks of the document, never a cut paragraph
        assert {p.strip() for p in extract.text.split("\n\n")} <= paragraphs
    assert [e.index for e in extracts] == list(range(len(extracts)))
    sizes = [e.words for e in extracts]
    assert max(sizes) - min(sizes) < 200  # evened out, not 400 + 400 + a scrap
    assert any(e.section == "Title \u203a Second part" for e in extracts)
    assert document_extracts(doc, config) == extracts  # deterministic


def test_a_paragraph_longer_than_the_bound_is_split_by_sentences() -> None:
    sentence = "This sentence has exactly eight words in it."
    doc = document("giant", " ".join([sentence] * 100))  # one 800-word paragraph
    extracts = document_extracts(doc, ExtractConfig(min_words=50, max_words=200))
    assert len(extracts) >= 4
    assert all(count_words(e.text) <= 200 for e in extracts)
    assert all(e.text.endswith("in it.") for e in extracts)


def test_short_posts_are_whole_extracts_and_tiny_ones_are_counted() -> None:
    post = document("post", prose("p", 50), category=Category.POST, platform=Platform.LINKEDIN)
    tiny = document("tiny", "Big news today.", category=Category.POST, platform=Platform.LINKEDIN)
    short_article = document("short", prose("s", 60))
    report = extract_documents([post, tiny, short_article], ExtractConfig(min_words=120, post_min_words=25))
    assert [e.document.document_id for e in report.extracts] == [post.document_id]
    assert report.extracts[0].text == post.content.strip()
    assert report.skipped == {"too_short": 2}
    assert report.documents == 3


def test_repository_code_is_skipped_by_default_and_markdown_is_prose() -> None:
    code = "````python\n" + "\n\n".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(60)) + "````"
    code_file = document(
        "code",
        code,
        category=Category.REPOSITORY,
        platform=Platform.GITHUB,
        metadata={"repo": "me/kerf", "path": "kerf/split.py", "language": "python"},
    )
    readme = document(
        "readme",
        "# kerf\n\n" + prose("r", 200),
        category=Category.REPOSITORY,
        platform=Platform.GITHUB,
        metadata={"repo": "me/kerf", "path": "README.md", "language": "markdown"},
    )
    report = extract_documents([code_file, readme], ExtractConfig(min_words=100))
    assert [e.document.title for e in report.extracts] == [readme.title]
    assert report.extracts[0].kind == "prose"
    assert report.skipped == {"code_files": 1}

    with_code = extract_documents([code_file], ExtractConfig(min_words=20, max_words=120, include_code=True))
    parts = with_code.extracts
    assert len(parts) >= 2 and all(e.kind == "code" for e in parts)
    for part in parts:  # each part is a fenced block of whole top-level definitions, within the bound
        assert part.text.startswith("````python\n") and part.text.endswith("\n````")
        assert part.words <= 120
        assert "def f" in part.text.split("\n")[1]


def test_mostly_code_article_extracts_are_dropped() -> None:
    content = "A note.\n\n```python\n" + "\n".join(f"x{i} = compute({i}, y, z)" for i in range(60)) + "\n```"
    report = extract_documents([document("codey", content)], ExtractConfig(min_words=50, max_words=400))
    assert report.extracts == []
    assert report.skipped == {"mostly_code": 1}


def test_config_and_packing_bounds() -> None:
    with pytest.raises(ValidationError):
        ExtractConfig(min_words=500, max_words=400)
    assert pack_groups([100, 100, 100, 100, 100], 400) == [[0, 1, 2], [3, 4]]  # 2 groups, evened out
    assert pack_groups([500, 10], 400) == [[0], [1]]  # an oversized item stands alone
    assert pack_groups([], 400) == []
    assert count_words("x" * 120) == 10  # a 120-character "word" counts as 10
