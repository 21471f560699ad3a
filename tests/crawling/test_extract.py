"""HTML → markdown: readable content kept, boilerplate dropped, hostile HTML survived."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from llm_twin.crawling.extract import MAX_DEPTH, extract_article, flatten_deep, parse_datetime, parse_html
from llm_twin.crawling.markdown import fenced, normalize_markdown, truncate_utf8
from llm_twin.errors import CrawlError

CODE = 'def greet(name: str) -> str:\n\treturn f"<{name}> & \'friends\'"  \n\n\n\nprint(greet("x"))'
CODE_HTML = CODE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

PAGE = f"""<!doctype html>
<html><head>
<title>Tab title | My Blog</title>
<meta property="og:title" content="Shipping small models">
<meta name="description" content="What I learned running tiny LLMs">
<meta property="article:published_time" content="2024-03-01T10:00:00Z">
</head><body>
<header class="site-header"><a href="/">My Blog</a><nav><a href="/about">About me</a></nav></header>
<div id="cookie-banner">We use cookies to improve your experience. <button>Accept all</button></div>
<aside class="sidebar"><h3>Archive</h3><ul><li>March</li></ul></aside>
<main><article>
<h1>Shipping small models</h1>
<p>Small models are <strong>fast</strong>, cheap &amp; <em>good enough</em>:
see <a href="/docs/intro">the docs</a>.</p>
<h2>Why it matters</h2>
<ol><li>Latency</li><li>Cost, with <code>batch_size=8</code></li></ol>
<blockquote><p>Premature optimisation is the root of all evil.</p></blockquote>
<pre><code class="language-python">{CODE_HTML}</code></pre>
<div class="share-buttons"><a href="https://twitter.com/share">Tweet this</a></div>
<p>Thanks for reading! Subscribe for free to receive new posts and support my work.</p>
<div class="newsletter-signup"><p>Get the newsletter</p><form><input type="email"></form></div>
<table><tr><th>model</th><th>params</th></tr><tr><td>SmolLM2</td><td>135M</td></tr></table>
<h2>Related posts</h2><ul><li><a href="/other">Another post</a></li></ul>
<section id="comments"><h3>3 Comments</h3><p>Great post, thanks a lot for writing it!</p></section>
</article></main>
<footer><p>© 2024 Me. All rights reserved.</p></footer>
<script>window.tracking = true;</script>
</body></html>"""


@pytest.fixture(scope="module")
def article() -> object:
    return extract_article(PAGE, url="https://blog.example.com/posts/small-models", max_bytes=100_000)


def test_keeps_headings_lists_links_quotes_and_tables(article: object) -> None:
    md = article.markdown  # type: ignore[attr-defined]
    assert (
        "Small models are **fast**, cheap & *good enough*:\nsee [the docs](https://blog.example.com/docs/intro)."
        in md
    )
    assert "## Why it matters" in md
    assert "1. Latency" in md and "2. Cost, with `batch_size=8`" in md
    assert "> Premature optimisation is the root of all evil." in md
    assert "| SmolLM2 | 135M |" in md


def test_code_blocks_are_fenced_with_language_and_kept_byte_for_byte(article: object) -> None:
    assert f"```python\n{CODE}\n```" in article.markdown  # type: ignore[attr-defined]


def test_boilerplate_is_dropped(article: object) -> None:
    md = article.markdown  # type: ignore[attr-defined]
    junk = (
        "About me|cookies|Archive|Tweet|Subscribe|newsletter|Related posts|Another post|Comments|Great post"
    )
    junk += "|All rights reserved|tracking|My Blog"
    for text in junk.split("|"):
        assert text not in md, text
    assert not md.startswith("# Shipping small models")  # the title is not repeated in the body


def test_title_subtitle_and_date(article: object) -> None:
    assert article.title == "Shipping small models"  # type: ignore[attr-defined]
    assert article.subtitle == "What I learned running tiny LLMs"  # type: ignore[attr-defined]
    assert article.published_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    assert article.truncated is False  # type: ignore[attr-defined]


def test_title_falls_back_to_h1_then_title_tag_and_date_to_time_element() -> None:
    html = "<html><head><title>Tab</title></head><body><h1>Real title</h1><p>Body text here.</p>"
    html += '<time datetime="2023-07-04">July 4</time></body></html>'
    extracted = extract_article(html, url="http://x.test/a", max_bytes=10_000)
    assert extracted.title == "Real title"
    assert extracted.published_at == datetime(2023, 7, 4, tzinfo=UTC)
    only_tab = extract_article(
        "<title> Tab  title </title><p>Body text.</p>", url="http://x.test/", max_bytes=999
    )
    assert only_tab.title == "Tab title"


def test_densest_container_wins_without_article_or_main() -> None:
    html = (
        "<body><div class='top'><a href='/'>Home</a> | <a href='/x'>X</a></div>"
        "<div class='content'><p>First paragraph with plenty of real words in it.</p>"
        "<p>Second paragraph, equally substantial and long enough to count.</p></div>"
        "<div class='bottom'><p>tiny</p></div></body>"
    )
    md = extract_article(html, url="http://x.test/", max_bytes=10_000).markdown
    assert "First paragraph" in md and "Second paragraph" in md
    assert "Home" not in md and "tiny" not in md


def test_fence_outgrows_backticks_inside_code() -> None:
    code = "text = '''\n```\nnot a fence\n```\n'''"
    html = f"<article><p>Intro.</p><pre><code class='lang-py'>{code}</code></pre></article>"
    md = extract_article(html, url="http://x.test/", max_bytes=10_000).markdown
    assert f"````py\n{code}\n````" in md
    assert fenced("a\n", "go") == "```go\na\n```"


def test_blank_lines_collapse_outside_code_only() -> None:
    text = "a\n\n\n\n\nb   \n```\nx\n\n\n\ny\n```\n\n\n\nc"
    assert normalize_markdown(text) == "a\n\nb\n\n```\nx\n\n\n\ny\n```\n\nc\n"
    html = "<article><p>one</p><p></p><br><br><br><p>two</p></article>"
    assert "\n\n\n" not in extract_article(html, url="http://x.test/", max_bytes=999).markdown


def test_malformed_html_keeps_its_text() -> None:
    html = "<html><body><article><p>Unclosed <b>bold <i>and italic<p>Next para<ul><li>item one<li>item two"
    md = extract_article(html, url="http://x.test/", max_bytes=10_000).markdown
    for piece in ("Unclosed", "bold", "and italic", "Next para", "- item one", "- item two"):
        assert piece in md


def test_twenty_thousand_nested_divs_are_survived_quickly() -> None:
    html = (
        "<html><body>"
        + "<div>" * 20_000
        + "<p>deep text</p>"
        + "</div>" * 20_000
        + "<p>after</p></body></html>"
    )
    started = time.monotonic()
    md = extract_article(html, url="http://x.test/", max_bytes=10_000).markdown
    assert time.monotonic() - started < 5
    assert "deep text" in md and "after" in md


def test_flatten_deep_bounds_the_depth() -> None:
    def deepest(soup: object) -> int:
        return max(len(list(tag.parents)) for tag in soup.find_all(True))  # type: ignore[attr-defined]

    soup = parse_html("<div>" * 500 + "<p>x</p>" + "</div>" * 500)
    assert 100 <= deepest(soup) <= MAX_DEPTH + 1
    assert flatten_deep(soup, 50) == 1  # one element sits on the new boundary
    assert deepest(soup) == 50
    assert soup.get_text() == "x"


def test_nul_bytes_huge_attributes_and_junk_characters() -> None:
    html = '<article><p title="' + "A" * 5_000_000 + '">Visible\x00 text</p><p>caf\ufffd ok</p>'
    html += '<a href="javascript:alert(1)">js link</a> <a href="' + "h" * 5000 + '">long</a></article>'
    md = extract_article(html, url="http://x.test/", max_bytes=10_000).markdown
    assert "Visible text" in md and "caf\ufffd ok" in md
    assert "javascript" not in md and "js link" in md and "hhhh" not in md


def test_empty_page_is_a_crawl_error() -> None:
    with pytest.raises(CrawlError, match="no readable content"):
        extract_article(
            "<html><body><nav>menu</nav><script>x()</script></body></html>", url="http://x.test/", max_bytes=9
        )


def test_truncation_respects_utf8_boundaries() -> None:
    text = "é" * 10  # 2 bytes each
    cut, truncated = truncate_utf8(text, 7)
    assert (cut, truncated) == ("é" * 3, True)
    assert truncate_utf8(text, 20) == (text, False)
    html = "<article><p>" + "日本語" * 1000 + "</p></article>"
    extracted = extract_article(html, url="http://x.test/", max_bytes=1000)
    assert extracted.truncated and len(extracted.markdown.encode()) <= 1000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("Fri, 01 Mar 2024 10:00:00 GMT", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01 10:00:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_datetime(value: str, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


def test_boilerplate_class_does_not_take_the_whole_article() -> None:
    body = "".join(f"<p>Paragraph {i} of the actual article, long enough to matter.</p>" for i in range(12))
    html = f"<body><div class='post-body share-enabled'>{body}</div><div class='share'>Share</div></body>"
    md = extract_article(html, url="http://x.test/", max_bytes=10_000).markdown
    assert "Paragraph 0" in md and "Paragraph 11" in md
    assert "Share" not in md


def test_code_inside_highlighted_spans_keeps_comments() -> None:
    html = (
        "<article><p>Intro.</p><pre class='highlight'><code class='language-js'>"
        "<span class='hljs-comment'>// keep me</span>\n<span class='hljs-keyword'>let</span> a = 1;"
        "</code></pre></article>"
    )
    md = extract_article(html, url="http://x.test/", max_bytes=10_000).markdown
    assert "```js\n// keep me\nlet a = 1;\n```" in md
