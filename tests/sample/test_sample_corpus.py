"""The corpus itself: complete, in range, internally consistent, in one voice."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import pytest

from llm_twin.sample import SampleSite, load_corpus
from llm_twin.sample.corpus import public_links

CORPUS = load_corpus()
PIECES = CORPUS.pieces


def test_pieces_per_platform():
    assert Counter(p.platform for p in PIECES) == {"medium": 5, "substack": 5, "blog": 4}
    assert len({p.key for p in PIECES}) == len(PIECES)
    assert len({p.title for p in PIECES}) == len(PIECES)
    assert all(
        p.medium_id and re.fullmatch(r"[0-9a-f]{12}", p.medium_id) for p in PIECES if p.platform == "medium"
    )


@pytest.mark.parametrize("piece", PIECES, ids=lambda p: f"{p.platform}/{p.slug}")
def test_each_piece_is_a_real_article_in_range(piece):
    assert 400 <= piece.words <= 1200, piece.words
    assert piece.title and piece.subtitle and piece.tags
    assert "lorem" not in piece.markdown.lower()
    assert piece.markdown.count("\n## ") >= 2  # sectioned
    # the voice: the sign-off, British spelling, no American spellings that slipped through
    assert CORPUS.author.sign_off in piece.markdown
    assert piece.markdown.rstrip().endswith("— Nell")
    prose = re.sub(r"```.*?```|`[^`]*`", "", piece.markdown, flags=re.S)
    american = re.findall(
        r"\b(optimiz\w*|normaliz\w*|organiz\w*|realiz\w*|behavior\w*|color\w*|favorite)\b", prose
    )
    assert not american


def test_the_voice_has_numbered_field_notes():
    with_notes = [p for p in PIECES if re.search(r"^## Field notes$", p.markdown, re.M)]
    assert len(with_notes) >= 10
    assert sum("```" in p.markdown for p in PIECES if p.platform == "medium") >= 2


def test_cross_links_resolve_and_render_cleanly():
    links = public_links(CORPUS)
    for piece in PIECES:
        html = links.html(piece)
        assert "{{" not in html and "**" not in html
        assert html.startswith("<p>")
    chunking = links.html(CORPUS.piece("medium", "chunking-is-a-product-decision"))
    assert 'href="https://github.com/nharrowgate/kerf"' in chunking
    assert '<pre><code class="language-python">from kerf import chunk_markdown' in chunking


def test_code_is_kept_byte_for_byte():
    html = public_links(CORPUS).html(CORPUS.piece("blog", "a-small-makefile-for-ml-projects"))
    assert "\n\t$(PYTHON) -m venv $(VENV)\n" in html  # the recipe's tab survives
    hybrid = public_links(CORPUS).html(CORPUS.piece("medium", "hybrid-search-on-a-budget"))
    assert "scores[doc_id] += 1.0 / (k + rank)" in hybrid


def test_facts_agree_across_pieces():
    text = {p.slug: p.markdown for p in PIECES}
    assert (
        "0.61" in text["chunking-is-a-product-decision"] and "0.78" in text["chunking-is-a-product-decision"]
    )
    assert (
        "0.84" in text["hybrid-search-on-a-budget"] and "0.84" in text["your-retrieval-eval-set-is-too-small"]
    )
    assert "11,400" in text["the-3am-page-that-taught-me-idempotency"]
    assert "3.4 seconds" in text["fine-tuning-a-135m-model-on-a-laptop"]
    assert "Brenda" in text["why-i-cycle-to-work"]
    readme = CORPUS.repository.files["README.md"].decode()
    assert "max_tokens=400" in readme and "overlap=50" in readme
    markdown_module = CORPUS.repository.files["kerf/markdown.py"].decode()
    assert "max_tokens: int = 400" in markdown_module and "overlap: int = 50" in markdown_module


def test_questions_reference_existing_documents(site: SampleSite):
    questions = CORPUS.questions
    assert len(questions) >= 25
    assert {q.kind for q in questions} == {"keyword", "paraphrase"}
    documents = set(site.document_urls()) | {p["ShareLink"] for p in site.linkedin_posts()}
    cited = set()
    for q in questions:
        assert q.question.endswith("?") and q.relevant
        for relative in q.relevant:
            url = site.resolve(relative)
            assert url in documents, (q.question, relative)
            assert site.document_for(url) == relative
            cited.add(url)
        if q.platform:
            assert all(r.startswith(f"/{q.platform}/") for r in q.relevant)
    served = set(site.document_urls())
    assert served <= cited, served - cited  # every served document answers at least one question


def test_importing_does_no_io():
    code = (
        "import threading, llm_twin.sample, llm_twin.sample.server, llm_twin.sample.pages\n"
        "from llm_twin.sample.corpus import load_corpus\n"
        "assert load_corpus.cache_info().currsize == 0\n"
        "assert threading.active_count() == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_no_dotfiles_in_package_data():
    """Wheels built from ``sample/**/*`` drop dotfiles: the repository stores them as ``dot.*``."""
    from importlib import resources
    from pathlib import Path

    root = Path(str(resources.files("llm_twin.sample")))
    caches = {"__pycache__", ".ruff_cache", ".pytest_cache"}
    hidden = [
        p.relative_to(root)
        for p in root.rglob(".*")
        if not caches & set(p.relative_to(root).parts) and p.name not in caches
    ]
    assert hidden == []
