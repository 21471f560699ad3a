"""The four local sites: every document reachable, shaped like the real platform, feeds complete."""

from __future__ import annotations

import re
import socket
import time
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
import requests
from bs4 import BeautifulSoup

from llm_twin.sample import SampleSite, load_corpus

CORPUS = load_corpus()
HANDLE = CORPUS.author.handles["medium"]


def soup(response: requests.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def test_platforms_have_their_own_origins(site: SampleSite):
    origins = site.origins
    assert set(origins) == {"medium", "substack", "blog", "github"}
    assert len(set(origins.values())) == 4
    assert all(re.fullmatch(r"http://127\.0\.0\.1:\d+", o) for o in origins.values())
    assert site.host_map() == {o.removeprefix("http://"): p for p, o in origins.items()}
    assert site.author_name == "Nell Harrowgate"


def test_entry_links(site: SampleSite, http: requests.Session):
    medium, substack, blog, github = site.entry_links()
    assert medium == f"{site.base_url('medium')}/@{HANDLE}"
    assert substack == site.base_url("substack") + "/"
    assert blog == site.base_url("blog") + "/"
    assert github == f"{site.base_url('github')}/nharrowgate/kerf"
    for link in site.entry_links():
        assert http.get(link, timeout=5).status_code == 200


def test_every_document_is_reachable(site: SampleSite, http: requests.Session):
    urls = site.document_urls()
    assert len(urls) == 15
    for url in urls:
        response = http.get(url, timeout=5)
        assert response.status_code == 200, url
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert int(response.headers["Content-Length"]) == len(response.content)
        assert not response.history  # canonical URLs never redirect
    for piece in CORPUS.pieces:
        page = http.get(site.piece_url(piece.platform, piece.slug), timeout=5).text
        assert piece.title.replace("'", "&#x27;") in page or piece.title in page


def test_medium_article_is_medium_shaped(site: SampleSite, http: requests.Session):
    piece = CORPUS.piece("medium", "chunking-is-a-product-decision")
    url = site.piece_url("medium", piece.slug)
    assert url == f"{site.base_url('medium')}/@{HANDLE}/chunking-is-a-product-decision-7c1e9a4b2d3f"
    page = soup(http.get(url, timeout=5))
    assert page.find("meta", property="og:site_name")["content"] == "Medium"
    assert page.find("meta", property="og:title")["content"] == piece.title
    assert page.find("meta", property="og:description")["content"] == piece.subtitle
    assert page.find("meta", property="article:published_time")["content"].startswith("2023-09-14T08:30:00")
    assert page.find("link", rel="canonical")["href"] == url
    article = page.find("article")
    assert article.find("h1").get_text() == piece.title
    assert article.find("h2", class_="pw-subtitle-paragraph").get_text() == piece.subtitle
    assert [h.get_text() for h in article.find_all("h2")][1] == "What fixed windows do to a help article"
    assert article.select("pre > code.language-python")
    assert article.find("ol") and article.find("ul")
    text = page.get_text(" ")
    for noise in (
        "Sign up",
        "Sign in",
        "To make Medium work",
        "More from Nell Harrowgate",
        "Recommended from Medium",
    ):
        assert noise in text
    assert page.find("button", attrs={"aria-label": "clap"})
    assert any("__APOLLO_STATE__" in (s.string or "") for s in page.find_all("script"))


def test_at_least_two_medium_articles_have_code(site: SampleSite, http: requests.Session):
    with_code = 0
    for piece in CORPUS.pieces_for("medium"):
        page = soup(http.get(site.piece_url("medium", piece.slug), timeout=5))
        with_code += bool(page.select('article pre > code[class^="language-"]'))
    assert with_code >= 2


def test_medium_profile_and_short_links(site: SampleSite, http: requests.Session):
    profile_url = site.entry_links()[0]
    page = soup(http.get(profile_url, timeout=5))
    assert page.find("meta", property="og:site_name")["content"] == "Medium"
    hrefs = [urljoin(profile_url, a["href"]) for a in page.select("article[data-testid=post-preview] a")]
    assert {h.split("?")[0] for h in hrefs} == {
        site.piece_url("medium", p.slug) for p in CORPUS.pieces_for("medium")
    }
    piece = CORPUS.piece("medium", "hybrid-search-on-a-budget")
    short = f"{site.base_url('medium')}/p/{piece.medium_id}"
    response = http.get(short, allow_redirects=False, timeout=5)
    assert response.status_code == 301
    assert response.headers["Location"] == site.piece_url("medium", piece.slug)


def _feed(http: requests.Session, url: str) -> feedparser.FeedParserDict:
    response = http.get(url, timeout=5)
    assert response.status_code == 200
    assert "charset=utf-8" in response.headers["Content-Type"]
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


@pytest.mark.parametrize(
    ("platform", "path", "generator"),
    [
        ("medium", f"/feed/@{HANDLE}", "Medium"),
        ("substack", "/feed", "Substack"),
        ("blog", "/index.xml", "Hugo"),
    ],
)
def test_feeds_list_every_post_with_absolute_links(site, http, platform, path, generator):
    feed = _feed(http, site.base_url(platform) + path)
    assert feed.version == "rss20"
    assert feed.feed.generator.startswith(generator)
    pieces = CORPUS.pieces_for(platform)
    assert [e.title for e in feed.entries] == [p.title for p in pieces]  # newest first
    origin = site.base_url(platform)
    for entry, piece in zip(feed.entries, pieces, strict=True):
        assert entry.link.startswith(origin + "/")
        assert entry.link.split("?")[0] == site.piece_url(platform, piece.slug)
        assert entry.published_parsed[:5] == piece.published_at.utctimetuple()[:5]
        content = entry.content[0].value if "content" in entry else entry.summary
        assert len(re.sub(r"<[^>]+>", " ", content).split()) >= 0.9 * piece.words  # the full text
        assert "{{" not in content
        if "{{url:" in piece.markdown:  # cross-links point at the local origins
            assert re.search(r'href="http://127\.0\.0\.1:\d+/', content)


def test_medium_feed_items(site: SampleSite, http: requests.Session):
    feed = _feed(http, f"{site.base_url('medium')}/feed/@{HANDLE}")
    first = feed.entries[0]
    piece = CORPUS.pieces_for("medium")[0]
    assert first.author == "Nell Harrowgate"
    assert first.id == f"{site.base_url('medium')}/p/{piece.medium_id}"
    assert [t.term for t in first.tags] == list(piece.tags)
    assert "?source=rss-" in first.link
    assert "<pre><code" in first.content[0].value


def test_substack_pages(site: SampleSite, http: requests.Session):
    origin = site.base_url("substack")
    piece = CORPUS.piece("substack", "the-3am-page-that-taught-me-idempotency")
    url = site.piece_url("substack", piece.slug)
    assert url == f"{origin}/p/{piece.slug}"
    page = soup(http.get(url, timeout=5))
    assert page.find("meta", attrs={"name": "generator"})["content"] == "Substack"
    assert page.find("h1", class_="post-title").get_text() == piece.title
    assert page.find("h3", class_="subtitle").get_text() == piece.subtitle
    body = page.select_one("div.available-content > div.body.markup")
    assert body.find("h2").get_text() == "03:07"
    assert body.select(".subscription-widget")  # Substack puts a subscribe box inside the body
    assert "substackcdn.com" in str(page.head)
    assert page.select(".comments-section .comment")
    assert "Share" in page.get_text() and "Subscribe" in page.get_text()
    for listing in ("/", "/archive"):
        links = {
            a["href"] for a in soup(http.get(origin + listing, timeout=5)).select("a.post-preview-title")
        }
        assert links == {site.piece_url("substack", p.slug) for p in CORPUS.pieces_for("substack")}
    api = http.get(f"{origin}/api/v1/archive?sort=new&offset=1&limit=2", timeout=5).json()
    assert [p["slug"] for p in api] == [p.slug for p in CORPUS.pieces_for("substack")[1:3]]


def test_blog_pages(site: SampleSite, http: requests.Session):
    origin = site.base_url("blog")
    home = soup(http.get(origin + "/", timeout=5))
    alternate = home.find("link", rel="alternate", type="application/rss+xml")
    assert alternate["href"] == "/index.xml"
    assert home.find("meta", attrs={"name": "generator"})["content"].startswith("Hugo")
    listed = {a["href"] for a in home.select("article.post-entry a.entry-link")}
    assert listed == {site.piece_url("blog", p.slug) for p in CORPUS.pieces_for("blog")}
    piece = CORPUS.piece("blog", "why-i-cycle-to-work")
    page = soup(http.get(site.piece_url("blog", piece.slug), timeout=5))
    article = page.select_one("main article")
    assert article.find("h1").get_text() == piece.title
    assert article.find("time")["datetime"] == "2022-10-09T18:20:00+00:00"
    assert page.select("header nav") and page.select("footer.footer")
    assert page.select(".related-posts li a")
    bare = http.get(f"{origin}/posts/{piece.slug}", allow_redirects=False, timeout=5)
    assert bare.status_code == 301 and bare.headers["Location"] == site.piece_url("blog", piece.slug)


def test_github_repo_page(site: SampleSite, http: requests.Session):
    url = site.entry_links()[3]
    page = soup(http.get(url, timeout=5))
    assert page.find("meta", property="og:site_name")["content"] == "GitHub"
    assert page.find("meta", property="og:url")["content"] == url
    readme = page.select_one("article.markdown-body")
    assert readme.find("h1").get_text() == "kerf"
    names = {a.get_text() for a in page.select("table a.Link--primary")}
    assert {"kerf", "tests", "README.md", "pyproject.toml", "LICENSE", "uv.lock", "node_modules"} <= names
    blob = http.get(f"{url}/blob/main/kerf/split.py", timeout=5)
    assert blob.status_code == 200 and "def split_to_fit" in soup(blob).get_text()
    raw = http.get(f"{url}/raw/main/kerf/split.py", timeout=5)
    assert raw.content == CORPUS.repository.files["kerf/split.py"]
    assert http.get(f"{url}/tree/main/tests", timeout=5).status_code == 200


def test_unknown_paths_are_404(site: SampleSite, http: requests.Session):
    for platform, path in [
        ("medium", f"/@{HANDLE}/no-such-story-123456789abc"),
        ("substack", "/p/no-such-post"),
        ("blog", "/posts/no-such-post/"),
        ("github", "/nharrowgate/no-such-repo"),
        ("github", "/nharrowgate/kerf/blob/main/missing.py"),
    ]:
        response = http.get(site.base_url(platform) + path, timeout=5)
        assert response.status_code == 404, (platform, path)
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_head_robots_and_conditional_get(site: SampleSite, http: requests.Session):
    url = site.document_urls()[0]
    get = http.get(url, timeout=5)
    head = http.head(url, timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert http.get(url, timeout=5).content == get.content  # deterministic
    etag = get.headers["ETag"]
    assert http.get(url, headers={"If-None-Match": etag}, timeout=5).status_code == 304
    for platform in site.origins:
        robots = http.get(site.base_url(platform) + "/robots.txt", timeout=5)
        assert robots.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert robots.text.startswith("User-agent: *")


def test_overrides(site: SampleSite, http: requests.Session):
    url = site.piece_url("substack", "on-evaluation-theatre")
    path = urlsplit(url).path
    site.set_override("substack", path, "<html><body><p>Replaced.</p></body></html>")
    assert http.get(url, timeout=5).text == "<html><body><p>Replaced.</p></body></html>"
    site.set_override("substack", path, status=404)
    assert http.get(url, timeout=5).status_code == 404
    site.set_override("substack", path, status=500)
    assert http.get(url, timeout=5).status_code == 500
    site.set_override("substack", "/feed", "<rss/>")
    feed = http.get(site.base_url("substack") + "/feed", timeout=5)
    assert feed.text == "<rss/>" and feed.headers["Content-Type"].startswith("application/rss+xml")
    site.set_override("substack", path, status=301, headers={"Location": site.base_url("substack") + "/"})
    assert http.get(url, allow_redirects=False, timeout=5).headers["Location"].endswith("/")
    site.clear_override("substack", path)
    assert http.get(url, timeout=5).status_code == 200
    site.set_override("blog", "/", delay=0.3)
    started = time.monotonic()
    assert http.get(site.base_url("blog") + "/", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(ValueError):
        site.set_override("linkedin", "/")


def test_edits_and_removals_show_everywhere(site: SampleSite, http: requests.Session):
    url = site.piece_url("medium", "hybrid-search-on-a-budget")
    before = http.get(url, timeout=5)
    site.update_piece(
        "medium", "hybrid-search-on-a-budget", append="**Update, March 2024:** the set is now 140."
    )
    after = http.get(url, timeout=5)
    assert after.content != before.content and after.headers["ETag"] != before.headers["ETag"]
    assert "<strong>Update, March 2024:</strong> the set is now 140." in after.text
    feed = _feed(http, f"{site.base_url('medium')}/feed/@{HANDLE}")
    entry = next(e for e in feed.entries if e.link.startswith(url))
    assert "the set is now 140" in entry.content[0].value
    site.remove_piece("medium", "hybrid-search-on-a-budget")
    assert http.get(url, timeout=5).status_code == 404
    assert url not in site.document_urls()
    assert len(_feed(http, f"{site.base_url('medium')}/feed/@{HANDLE}").entries) == 4
    site.reset()
    assert http.get(url, timeout=5).content == before.content


def test_request_log(site: SampleSite, http: requests.Session):
    site.clear_requests()
    url = site.piece_url("blog", "why-i-cycle-to-work")
    http.get(url, timeout=5)
    http.get(url + "?utm_source=test", timeout=5)
    http.head(url, timeout=5)
    path = urlsplit(url).path
    assert site.hits("blog", path) == 3
    assert site.hits("medium") == 0
    record = site.requests[-1]
    assert (record.platform, record.method, record.path, record.status) == ("blog", "HEAD", path, 200)
    assert record.user_agent == "llm-twin-tests/1.0"
    assert site.requests[1].query == "utm_source=test"


def test_resolve_and_relative(site: SampleSite):
    rel = f"/medium/@{HANDLE}/chunking-is-a-product-decision-7c1e9a4b2d3f"
    url = site.resolve(rel)
    assert url == site.piece_url("medium", "chunking-is-a-product-decision")
    assert site.relative(url + "?source=rss-abc------2") == rel
    assert site.document_for(url + "?source=rss-abc------2") == rel
    assert site.document_for(site.entry_links()[3] + "/blob/main/README.md") == "/github/nharrowgate/kerf"
    assert (
        site.document_for(site.base_url("blog") + "/posts/why-i-cycle-to-work")
        == "/blog/posts/why-i-cycle-to-work/"
    )
    assert site.document_for(site.base_url("blog") + "/about/") is None
    assert site.resolve("/linkedin/feed/update/urn%3Ali%3Ashare%3A1").startswith(
        "https://www.linkedin.com/feed/"
    )
    assert site.relative("https://example.com/x") is None
    with pytest.raises(ValueError):
        site.resolve("/myspace/x")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_fixed_ports_and_clean_stop():
    ports = dict(zip(("medium", "substack", "blog", "github"), _free_ports(4), strict=True))
    with SampleSite(ports) as site:
        assert site.origins == {p: f"http://127.0.0.1:{port}" for p, port in ports.items()}
        assert requests.get(site.entry_links()[1], timeout=5).status_code == 200
    assert not site.running
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{ports['substack']}/", timeout=2)
    with pytest.raises(RuntimeError):
        site.base_url("medium")
