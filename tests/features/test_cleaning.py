"""clean_markdown: noise out, structure and code kept byte for byte, idempotent."""

from __future__ import annotations

import random
import re
from importlib import resources

import pytest

from llm_twin.domain.models import Category
from llm_twin.features.cleaning import clean_markdown, split_fenced, strip_tracking

A, P, R = Category.ARTICLE, Category.POST, Category.REPOSITORY

STRUCTURE = (
    "# T\n\n## S\n\n> quote \u2014 \u201cx\u201d!\n\n1. one; two: three\u2026\n2. **b** _i_\n\n"
    "| a | b |\n|---|---|"
)

# (id, input, category, expected output)
CASES: list[tuple[str, str, Category, str]] = [
    # links and URLs
    ("link keeps its text", "Read [the post](https://x.com/a?id=3) now.", A, "Read the post now."),
    ("link with title", 'See [docs](https://d.io/x "Docs") here.', A, "See docs here."),
    ("url as its own text keeps url", "[https://x.com/a?utm_source=tw](https://x.com/a?utm_source=tw)", A,
     "https://x.com/a"),
    ("bare url loses tracking, keeps full stop", "See https://x.com/a?utm_source=tw&id=3&fbclid=Z.", A,
     "See https://x.com/a?id=3."),
    ("medium rss source", "Go to https://medium.com/p/abc?source=rss----1a2b---4 today", A,
     "Go to https://medium.com/p/abc today"),
    ("meaningful source kept", "Use https://api.io/v1?source=github&ref=x please", A,
     "Use https://api.io/v1?source=github please"),
    ("autolink", "Mail <https://x.org/?gclid=1&q=a> or not", A, "Mail https://x.org/?q=a or not"),
    ("nested brackets and parens in url", "[a [b] c](https://en.wikipedia.org/wiki/Foo_(bar))", A, "a [b] c"),
    ("reference link and its definition", "[ref text][1] here\n\n[1]: https://example.com", A,
     "ref text here"),
    ("in-page anchor link", "Back to [the top](#top).", A, "Back to the top."),
    # images
    ("image-only line dropped", "![logo](https://x/p.png)\n\nText", A, "Text"),
    ("linked badge line dropped", "[![CI](https://img/b.svg)](https://ci/x)\nok", A, "ok"),
    ("html img and pixel dropped", 'A <img src="https://t.co/p.gif" width="1"> B ![](https://t/p.gif)', A,
     "A B"),
    ("inline image becomes alt text", "The ![pipeline diagram](d.png) shows it.", A,
     "The pipeline diagram shows it."),
    # characters and whitespace
    ("nbsp, zero-width, repeated spaces, tabs", "Hello\u00a0world\u200b!  Two   spaces\t\ttab", A,
     "Hello world! Two spaces tab"),
    ("control chars and bom", "\ufeffa\x07b\x1bc\u202ed", A, "abcd"),
    ("crlf outside fences", "a\r\nb\r\n", A, "a\nb"),
    ("blank line runs collapse", "a\n\n\n\n\nb\n\n", A, "a\n\nb"),
    ("leading blank lines and trailing spaces", "\n\n  \nText   \n", A, "Text"),
    ("nested list indentation kept", "- a\n    - b   c\n        - d", A, "- a\n    - b c\n        - d"),
    ("indented code spacing kept", "Text\n\n    x  =  1", A, "Text\n\n    x  =  1"),
    # emoji
    ("emoji run removed, single kept", "Great 🚀🚀🚀 launch 🎉", A, "Great launch 🎉"),
    ("spaced emoji run and zwj family", "Done ✅ 🎉 👨\u200d👩\u200d👧 !", A, "Done !"),
    ("two emoji kept", "🔥🔥 fire", A, "🔥🔥 fire"),
    ("flags count once each", "Go 🇬🇧🇫🇷🇩🇪 team", A, "Go team"),
    # boilerplate
    ("subscribe and share", "Text\n\nSubscribe\n\n**Share this post**\n\nMore text", A, "Text\n\nMore text"),
    ("thanks for reading",
     "Body.\n\nThanks for reading Field Notes! Subscribe for free to receive new posts.", P, "Body."),
    ("read more link", "Body.\n\n- [Read more](https://a.io/x?utm_medium=email)", A, "Body."),
    ("clap counts and follow", "1.2K claps\n👏 45\nFollow\nFollow me on Twitter\nFollow the steps below:", A,
     "Follow the steps below:"),
    ("sign up and leave a comment", "Sign up for free\n\nLeave a comment\n\n12 comments\n\nReal.", A,
     "Real."),
    ("table of contents and reading time", "May 1, 2024 · 4 min · 802 words · Nell\n\nTable of Contents\n\n"
     "- [A](#a)\n- [B](#b)\n\n## A\n\nBody", A, "## A\n\nBody"),
    ("boilerplate words inside prose kept",
     "Please subscribe to the queue before you share this post's link.", A,
     "Please subscribe to the queue before you share this post's link."),
    ("heading never boilerplate", "## Subscribe\n\nHow to subscribe to a stream.", A,
     "## Subscribe\n\nHow to subscribe to a stream."),
    ("quoted boilerplate", "> [Subscribe](https://s.io)\n> quoted  text", A, "> quoted text"),
    # hashtags (posts)
    ("trailing hashtag line dropped", "New article 👇\n\n#RAG #Retrieval", P, "New article 👇"),
    ("trailing hashtag run on last line", "Shipped it. #ml #ai", P, "Shipped it."),
    ("linkedin hashtag prefix", "Done.\n\nhashtag#ML hashtag#AI", P, "Done."),
    ("inline hashtags keep their words", "I love #Python and #RAG.\n\nEnd.", P,
     "I love Python and RAG.\n\nEnd."),
    ("not hashtags", "C# and F# are #1 at issue #123, see page#frag", P,
     "C# and F# are #1 at issue #123, see page#frag"),
    ("articles keep hashtags", "Tags: #ml #ai", A, "Tags: #ml #ai"),
    ("headings are not hashtags", "# Title\n\nText", P, "# Title\n\nText"),
    # structure and punctuation
    ("structure kept", STRUCTURE, A, STRUCTURE),
    ("inline code untouched", "Use `a  b` and [`fn()`](https://docs) or `https://x?utm_source=1`", A,
     "Use `a  b` and `fn()` or `https://x?utm_source=1`"),
    ("empty", "", A, ""),
    ("only noise", "Subscribe\n\n![x](y.png)\n\n🚀🚀🚀", A, ""),
    ("prose that would become a fence", "\u200b```🎉 x", A, "\\```🎉 x"),
]  # fmt: skip

FENCED = (
    "```python\nx  =  1\u00a0\u200b\n\n\n\n# [a](b?utm_source=1) 🚀🚀🚀 Subscribe\r\n\tif x:  pass   \n```"
)


@pytest.mark.parametrize(("text", "category", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cleaning_cases(text: str, category: Category, expected: str) -> None:
    assert clean_markdown(text, category) == expected


@pytest.mark.parametrize(("text", "category"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_cleaning_is_idempotent(text: str, category: Category) -> None:
    once = clean_markdown(text, category)
    assert clean_markdown(once, category) == once


@pytest.mark.parametrize("category", list(Category))
def test_fenced_code_is_kept_byte_for_byte(category: Category) -> None:
    text = f"Intro  text\n\n{FENCED}\n\n\n\nSubscribe\n\nAfter."
    cleaned = clean_markdown(text, category)
    assert FENCED in cleaned
    assert cleaned == f"Intro text\n\n{FENCED}\n\nAfter."


def test_nested_and_unclosed_fences_are_code_to_their_end() -> None:
    nested = "````md\n```python\nx  = 1\n```\nSubscribe\n````"
    assert clean_markdown(f"{nested}\n\nSubscribe", A) == nested
    unclosed = "Text\n\n~~~\ncode   with  spaces\n\n\n\n🚀🚀🚀"
    assert clean_markdown(unclosed, A) == unclosed
    tilde_inside = "```\n~~~\nnot a fence end\n```\nSign up"
    assert clean_markdown(tilde_inside, A) == "```\n~~~\nnot a fence end\n```"


def test_fence_inside_a_list_item_is_code() -> None:
    text = "- step:\n\n    ```bash\n    make  test   # Subscribe\n    ```\n- next"
    assert clean_markdown(text, A) == text


def test_newlines_and_punctuation_survive() -> None:
    text = "Line one, with commas; semicolons: colons!\nLine two? (parens) [brackets] {braces} «guillemets»\n"
    cleaned = clean_markdown(text, A)
    assert cleaned == text.rstrip("\n")
    assert _punctuation(cleaned) == _punctuation(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.com/a?utm_source=a&utm_medium=b", "https://x.com/a"),
        ("https://x.com/a?b=1&mc_cid=2&c=%20x", "https://x.com/a?b=1&c=%20x"),
        ("https://x.com/a#:~:text=hello", "https://x.com/a"),
        ("https://x.com/a?b=1#frag", "https://x.com/a?b=1#frag"),
        ("https://sub.substack.com/p/x?r=abc&s=w", "https://sub.substack.com/p/x?s=w"),
        ("https://other.com/?r=abc", "https://other.com/?r=abc"),
        ("http://[::1", "http://[::1"),  # unparsable: left alone
    ],
)
def test_strip_tracking(url: str, expected: str) -> None:
    assert strip_tracking(url) == expected


def test_sample_corpus_cleans_idempotently_and_keeps_its_code() -> None:
    pieces = resources.files("llm_twin.sample").joinpath("pieces")
    checked = 0
    for folder in pieces.iterdir():
        for piece in folder.iterdir():
            text = piece.read_text(encoding="utf-8")
            category = P if folder.name == "substack" else A
            cleaned = clean_markdown(text, category)
            assert clean_markdown(cleaned, category) == cleaned, piece.name
            code = ["\n".join(run) for is_code, run in split_fenced(text) if is_code]
            assert code == ["\n".join(run) for is_code, run in split_fenced(cleaned) if is_code], piece.name
            assert len(cleaned) > 0.9 * len(text), piece.name  # clean prose is left alone
            unlinked = re.sub(r"\[([^\]]*)\]\([^)\s]*\)", r"\1", text)  # links keep only their text
            assert _punctuation(cleaned) == _punctuation(unlinked), piece.name
            checked += 1
    assert checked == 14


FRAGMENTS = [
    "word", "Word.", " ", "  ", "\t", "\n", "\n\n", "\n\n\n", "\u00a0", "\u200b", "\x07", "\r\n", "🚀", "🎉 ",
    "👨\u200d👩\u200d👧", "#tag", " #ml", "hashtag#AI", "C#", "[a](https://x.io/?utm_source=1)", "[b](#c)",
    "![i](p.png)", "![](pixel.gif)", "<https://y.io/?fbclid=2>", "https://z.io/p?gclid=3&k=v.", "`co  de`",
    "```", "```py\n", "~~~", "````", "# H", "## H2", "- ", "1. ", "> ", "Subscribe", "Share this post",
    "Follow", "Read more", "12 claps", "Table of Contents", "· 4 min ·", "|a|b|", "**b**", "_i_", "…", "—",
]  # fmt: skip


@pytest.mark.parametrize("category", list(Category))
def test_random_compositions_are_idempotent_and_keep_code(category: Category) -> None:
    rng = random.Random(f"clean-{category}")
    for _ in range(400):
        text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 40)))
        once = clean_markdown(text, category)
        assert clean_markdown(once, category) == once, repr(text)
        assert not re.search(r"\n[ \t]*\n[ \t]*\n", _outside_code(once)), repr(text)
        assert not re.search("[\x00-\x08\x0b-\x1f\u200b\ufeff]", _outside_code(once)), repr(text)
        code_before = [run for is_code, run in split_fenced(text) if is_code]
        code_after = [run for is_code, run in split_fenced(once) if is_code]
        assert code_after == code_before, repr(text)


def _outside_code(text: str) -> str:
    """The prose runs, each on its own (a code block between two runs is replaced by a marker)."""
    return "\n<code>\n".join("\n".join(run) for is_code, run in split_fenced(text) if not is_code)


def _punctuation(text: str) -> str:
    return "".join(ch for ch in text if ch in ",.;:!?()[]{}«»\"'\u2014\u2013-")
