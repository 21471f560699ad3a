"""The dispatcher: routing by host, then by sniffing a single fetch (custom domains, the demo)."""

from __future__ import annotations

import pytest

from llm_twin.crawling.base import CrawlOutcome
from llm_twin.crawling.dispatcher import Dispatcher, crawler_for_host
from llm_twin.crawling.fetcher import Fetcher, FetchResponse
from llm_twin.domain.models import Category, Platform
from llm_twin.errors import BlockedUrlError, CrawlError, InvalidUrlError

from . import pages, tarballs
from .conftest import LocalServer, Reply, make_settings
from .tarballs import entry
from .test_crawlers import serve_medium, serve_substack


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, FetchResponse | None]] = []

    def crawl(self, url: str, first: FetchResponse | None = None) -> CrawlOutcome:
        self.calls.append((url, first))
        return CrawlOutcome()


@pytest.mark.parametrize(
    ("url", "crawler"),
    [
        ("https://medium.com/@maya", "medium"),
        ("https://maya.medium.com/some-post-123", "medium"),
        ("https://towardsdatascience.medium.com/x", "medium"),
        ("https://maya.substack.com/p/hello", "substack"),
        ("https://github.com/maya/tools", "github"),
    ],
)
def test_known_hosts_route_without_fetching(url: str, crawler: str) -> None:
    recorders = {name: Recorder(name) for name in ("medium", "substack", "github", "article")}
    dispatcher = Dispatcher(Fetcher(make_settings(crawl_allow_hosts=[])), crawlers=recorders)  # type: ignore[arg-type]
    name, _ = dispatcher.crawl(url)
    assert name == crawler
    assert recorders[crawler].calls == [(url, None)]


@pytest.mark.parametrize(
    "url", ["https://www.linkedin.com/in/maya", "https://linkedin.com/posts/x", "https://uk.LinkedIn.com/"]
)
def test_linkedin_is_refused_with_guidance(url: str) -> None:
    with pytest.raises(CrawlError, match="import-linkedin"):
        Dispatcher(Fetcher(make_settings())).crawl(url)


def test_crawler_for_unknown_host() -> None:
    assert crawler_for_host("blog.example.com") is None
    assert crawler_for_host("substack.com") is None  # the app itself, not a publication


def test_invalid_and_blocked_urls_fail_before_routing() -> None:
    dispatcher = Dispatcher(Fetcher(make_settings(crawl_allow_hosts=[])))
    with pytest.raises(InvalidUrlError):
        dispatcher.crawl("not a url")
    with pytest.raises(BlockedUrlError):
        dispatcher.crawl("file:///etc/passwd")
    with pytest.raises(BlockedUrlError):
        dispatcher.crawl("http://127.0.0.1:9/")


def test_sniffs_medium_profile_on_a_custom_domain(server: LocalServer, fetcher: Fetcher) -> None:
    serve_medium(server, 2)
    name, outcome = Dispatcher(fetcher).crawl(server.url("/@maya"))
    assert name == "medium"
    assert [d.title for d in outcome.documents] == ["Post 1", "Post 2"]
    assert {d.platform for d in outcome.documents} == {Platform.MEDIUM}


def test_sniffs_a_medium_article(server: LocalServer, fetcher: Fetcher) -> None:
    serve_medium(server, 1)
    name, outcome = Dispatcher(fetcher).crawl(server.url("/@maya/post-1-abc1"))
    assert name == "medium" and [d.title for d in outcome.documents] == ["Post 1"]
    assert server.hits["/@maya/post-1-abc1"] == 1  # fetched once, for sniffing and crawling


def test_sniffs_substack_publication(server: LocalServer, fetcher: Fetcher) -> None:
    serve_substack(server)
    name, outcome = Dispatcher(fetcher).crawl(server.url("/"))
    assert name == "substack"
    assert [(d.title, d.category) for d in outcome.documents] == [
        ("First steps", Category.POST), ("Second thoughts", Category.POST),
    ]  # fmt: skip


def test_blog_home_page_advertising_its_feed(server: LocalServer, fetcher: Fetcher) -> None:
    server.route("/", pages.blog_home("/index.xml"))
    items = []
    for slug in ("one", "two"):
        server.route(f"/posts/{slug}/", pages.blog_post(f"Post {slug}", f"<p>Text of post {slug}.</p>"))
        items.append({"title": f"Post {slug}", "link": server.url(f"/posts/{slug}/")})
    server.route("/index.xml", Reply(pages.rss(items, generator="Hugo"), content_type="application/xml"))
    name, outcome = Dispatcher(fetcher).crawl(server.url("/"))
    assert name == "article"
    docs = outcome.documents
    assert [(d.title, d.platform, d.category) for d in docs] == [
        ("Post one", Platform.BLOG, Category.ARTICLE), ("Post two", Platform.BLOG, Category.ARTICLE),
    ]  # fmt: skip
    assert docs[0].content == "Text of post one.\n"
    assert server.hits["/"] == 1 and server.hits["/index.xml"] == 1


@pytest.mark.parametrize(
    ("generator", "crawler"), [("Substack", "substack"), ("Medium", "medium"), ("", "article")]
)
def test_feed_url_is_sniffed_by_generator(
    server: LocalServer, fetcher: Fetcher, generator: str, crawler: str
) -> None:
    server.route("/p/a", pages.blog_post("A", "<p>Post a.</p>"))
    feed = pages.rss([{"title": "A", "link": server.url("/p/a")}], generator=generator)
    server.route("/feed.xml", Reply(feed, content_type="text/xml"))
    name, outcome = Dispatcher(fetcher).crawl(server.url("/feed.xml"))
    assert name == crawler
    assert [d.title for d in outcome.documents] == ["A"]
    assert server.hits["/feed.xml"] == 1


def test_sniffs_github_repository_page(server: LocalServer, fetcher: Fetcher) -> None:
    server.route("/maya/tools", pages.github_repo_page("maya", "tools"))
    tarball = tarballs.build([entry("README.md", "# Tools\n")])
    server.route("/maya/tools/archive/HEAD.tar.gz", Reply(tarball, content_type="application/x-gzip"))
    name, outcome = Dispatcher(fetcher).crawl(server.url("/maya/tools"))
    assert name == "github"
    assert [d.title for d in outcome.documents] == ["maya/tools: README.md"]


def test_plain_page_is_an_article(server: LocalServer, fetcher: Fetcher) -> None:
    server.route("/", pages.blog_home("/feed"))  # a feed link, but this is not the root
    url = server.route("/notes/hello", pages.blog_post("Hello", "<p>Hello world.</p>"))
    name, outcome = Dispatcher(fetcher).crawl(url)
    assert name == "article"
    assert [(d.title, d.link) for d in outcome.documents] == [("Hello", url)]
    assert server.hits["/notes/hello"] == 1


def test_direct_tarball_goes_to_github_without_sniffing(server: LocalServer) -> None:
    tarball = tarballs.build([entry("notes.md", "# Notes\n")])
    url = server.route("/dl/notes.tar.gz", Reply(tarball, content_type="application/octet-stream"))
    fetcher = Fetcher(make_settings(crawl_max_bytes=100))  # a page-sized cap would refuse the archive
    name, outcome = Dispatcher(fetcher).crawl(url)
    assert name == "github"
    assert [d.content for d in outcome.documents] == ["# Notes\n"]
    assert server.hits["/dl/notes.tar.gz"] == 1
