"""Medium, Substack and blog crawlers against loopback sites (posts via feeds, item errors)."""

from __future__ import annotations

import pytest

from llm_twin.crawling.article import ArticleCrawler
from llm_twin.crawling.fetcher import Fetcher
from llm_twin.crawling.medium import MediumCrawler
from llm_twin.crawling.substack import SubstackCrawler
from llm_twin.domain.models import Category, Platform
from llm_twin.errors import CrawlError, TransientFetchError

from . import pages
from .conftest import LocalServer, Reply, make_settings

CODE = "for i in range(3):\n    print(i)"


def serve_medium(server: LocalServer, count: int = 3) -> list[str]:
    server.route("/@maya", pages.medium_profile())
    links = []
    for i in range(1, count + 1):
        path = f"/@maya/post-{i}-abc{i}"
        body = f"<p>Body of post {i} with enough words.</p><pre><code>{CODE}</code></pre>"
        server.route(path, pages.medium_post(f"Post {i}", f"Subtitle {i}", body))
        links.append(server.url(path) + "?source=rss-abc123----2")
    items = [{"title": f"Post {i}", "link": link} for i, link in enumerate(links, 1)]
    server.route("/feed/@maya", Reply(pages.rss(items, generator="Medium"), content_type=pages.RSS))
    return links


def test_medium_profile_via_feed_yields_every_post(server: LocalServer, fetcher: Fetcher) -> None:
    serve_medium(server, 3)
    outcome = MediumCrawler(fetcher).crawl(server.url("/@maya"))
    assert outcome.item_errors == []
    docs = outcome.documents
    assert [d.title for d in docs] == ["Post 1", "Post 2", "Post 3"]
    assert {d.platform for d in docs} == {Platform.MEDIUM}
    assert {d.category for d in docs} == {Category.ARTICLE}
    assert docs[0].subtitle == "Subtitle 1"
    assert docs[0].link == server.url("/@maya/post-1-abc1")  # tracking query dropped
    assert "Body of post 1" in docs[0].content and f"```\n{CODE}\n```" in docs[0].content
    for junk in ("Post 1\n", "Subtitle 1", "Follow", "Sign in", "Careers"):
        assert junk not in docs[0].content
    assert server.hits["/@maya"] == 0  # the profile page itself is not needed


def test_medium_feed_is_capped(server: LocalServer) -> None:
    serve_medium(server, 4)
    fetcher = Fetcher(make_settings(crawl_max_feed_items=2))
    assert len(MediumCrawler(fetcher).crawl(server.url("/@maya")).documents) == 2
    assert server.hits["/@maya/post-3-abc3"] == 0


def test_feed_with_a_404_post_returns_the_others_and_an_item_error(
    server: LocalServer, fetcher: Fetcher
) -> None:
    links = serve_medium(server, 3)
    del server.routes["/@maya/post-3-abc3"]
    outcome = MediumCrawler(fetcher).crawl(server.url("/@maya"))
    assert [d.title for d in outcome.documents] == ["Post 1", "Post 2"]
    assert len(outcome.item_errors) == 1
    assert links[2] in outcome.item_errors[0] and "404" in outcome.item_errors[0]


def test_failed_post_page_falls_back_to_feed_content(server: LocalServer, fetcher: Fetcher) -> None:
    items = [
        {
            "title": "Kept from feed",
            "link": server.url("/p/missing"),
            "content": "<p>Feed <b>body</b> text.</p>",
        },
        {"title": "Lost", "link": server.url("/p/also-missing")},
    ]
    server.route("/feed", Reply(pages.rss(items, generator="Substack"), content_type=pages.RSS))
    outcome = SubstackCrawler(fetcher).crawl(server.url("/"))
    assert [d.title for d in outcome.documents] == ["Kept from feed"]
    assert outcome.documents[0].content == "Feed **body** text.\n"
    assert outcome.documents[0].metadata["source"] == "feed"
    assert len(outcome.item_errors) == 1 and "also-missing" in outcome.item_errors[0]


def test_feed_whose_posts_all_fail_is_an_error(server: LocalServer, fetcher: Fetcher) -> None:
    items = [{"title": "A", "link": server.url("/p/a")}, {"title": "B", "link": server.url("/p/b")}]
    server.route("/feed", Reply(pages.rss(items), content_type=pages.RSS))
    with pytest.raises(CrawlError, match="no post"):
        SubstackCrawler(fetcher).crawl(server.url("/"))
    server.route("/p/a", Reply(status=503))
    server.route("/p/b", Reply(status=503))
    with pytest.raises(TransientFetchError):
        SubstackCrawler(fetcher).crawl(server.url("/"))


def serve_substack(server: LocalServer) -> None:
    server.route("/", pages.substack_home())
    items = []
    for slug, title in (("first-steps", "First steps"), ("second-thoughts", "Second thoughts")):
        body = f"<p>{title} is about <a href='/p/other'>small</a> models.</p><h2>Part two</h2><p>More.</p>"
        server.route(f"/p/{slug}", pages.substack_post(title, f"Why {title.lower()}", body))
        items.append({"title": title, "link": server.url(f"/p/{slug}")})
    server.route("/feed", Reply(pages.rss(items, generator="Substack"), content_type=pages.RSS))


@pytest.mark.parametrize("path", ["/", "/archive"])
def test_substack_publication_via_feed(server: LocalServer, fetcher: Fetcher, path: str) -> None:
    serve_substack(server)
    outcome = SubstackCrawler(fetcher).crawl(server.url(path))
    docs = outcome.documents
    assert [d.title for d in docs] == ["First steps", "Second thoughts"]
    assert {(d.platform, d.category) for d in docs} == {(Platform.SUBSTACK, Category.POST)}
    assert docs[0].subtitle == "Why first steps"
    assert docs[0].link == server.url("/p/first-steps")
    content = docs[0].content
    assert f"First steps is about [small]({server.url('/p/other')}) models." in content
    assert "## Part two" in content
    for junk in ("Subscribe", "Thanks for reading", "Share", "Comments", "Sign in"):
        assert junk not in content


def test_substack_single_post(server: LocalServer, fetcher: Fetcher) -> None:
    serve_substack(server)
    outcome = SubstackCrawler(fetcher).crawl(server.url("/p/second-thoughts"))
    assert [d.title for d in outcome.documents] == ["Second thoughts"]
    assert server.hits["/feed"] == 0


def test_article_page_and_truncation(server: LocalServer) -> None:
    body = "<p>" + "Word " * 400 + "</p>"
    url = server.route("/posts/long", pages.blog_post("Long read", body))
    fetcher = Fetcher(make_settings(max_document_bytes=500))
    doc = ArticleCrawler(fetcher).crawl(url).documents[0]
    assert (doc.platform, doc.category, doc.title) == (Platform.BLOG, Category.ARTICLE, "Long read")
    assert len(doc.content.encode()) <= 500
    assert doc.metadata["truncated"] == "true"
    assert "Posts" not in doc.content and "©" not in doc.content


def test_first_response_is_not_fetched_again(server: LocalServer, fetcher: Fetcher) -> None:
    url = server.route("/posts/once", pages.blog_post("Once", "<p>Fetched a single time.</p>"))
    first = fetcher.fetch(url)
    doc = ArticleCrawler(fetcher).crawl(url, first).documents[0]
    assert doc.title == "Once"
    assert server.hits["/posts/once"] == 1


def test_links_drop_tracking_parameters(server: LocalServer, fetcher: Fetcher) -> None:
    server.route("/posts/t/", pages.blog_post("T", "<p>Tracked.</p>"))
    doc = ArticleCrawler(fetcher).crawl(server.url("/posts/t/?utm_source=x&id=3&utm_medium=y")).documents[0]
    assert doc.link == server.url("/posts/t?id=3")


def test_crawlers_satisfy_the_protocol(fetcher: Fetcher) -> None:
    from llm_twin.crawling import Crawler, GitHubCrawler

    for crawler in (
        ArticleCrawler(fetcher),
        MediumCrawler(fetcher),
        SubstackCrawler(fetcher),
        GitHubCrawler(fetcher),
    ):
        assert isinstance(crawler, Crawler)
        assert crawler.name in {"article", "medium", "substack", "github"}
