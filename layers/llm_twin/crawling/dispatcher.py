"""Route a link to its crawler: by host first, else by sniffing the fetched page (fetched once)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from llm_twin.crawling.article import ArticleCrawler
from llm_twin.crawling.base import FEED_ACCEPT, HTML_ACCEPT, Crawler, CrawlOutcome
from llm_twin.crawling.fetcher import Fetcher
from llm_twin.crawling.github import TARBALL_PATH, GitHubCrawler
from llm_twin.crawling.medium import MediumCrawler
from llm_twin.crawling.sniff import crawler_for_feed, sniff
from llm_twin.crawling.substack import SubstackCrawler
from llm_twin.errors import CrawlError
from llm_twin.settings import Settings

LINKEDIN_MESSAGE = (
    "LinkedIn pages cannot be crawled (terms of service); import the official data export with "
    "`llm-twin import-linkedin`"
)


def crawler_for_host(host: str) -> str | None:
    """The crawler a well-known host needs, or None when the page must be sniffed."""
    host = host.lower().rstrip(".")
    if host == "linkedin.com" or host.endswith(".linkedin.com"):
        raise CrawlError(LINKEDIN_MESSAGE)
    if host == "medium.com" or host.endswith(".medium.com"):
        return "medium"
    if host.endswith(".substack.com"):
        return "substack"
    if host in ("github.com", "www.github.com"):
        return "github"
    return None


class Dispatcher:
    def __init__(
        self,
        fetcher: Fetcher,
        settings: Settings | None = None,
        crawlers: Mapping[str, Crawler] | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.settings = settings or fetcher.settings
        self.crawlers: dict[str, Crawler] = (
            dict(crawlers)
            if crawlers
            else {
                "medium": MediumCrawler(fetcher, self.settings),
                "substack": SubstackCrawler(fetcher, self.settings),
                "github": GitHubCrawler(fetcher, self.settings),
                "article": ArticleCrawler(fetcher, self.settings),
            }
        )

    def crawl(self, url: str) -> tuple[str, CrawlOutcome]:
        """(crawler name, outcome). Raises InvalidUrlError/BlockedUrlError/FetchError/CrawlError."""
        url = url.strip()
        self.fetcher.check_url(url)
        parts = urlsplit(url)
        name = "github" if TARBALL_PATH.search(parts.path) else crawler_for_host(parts.hostname or "")
        if name is not None:
            return name, self.crawlers[name].crawl(url)
        first = self.fetcher.fetch(url, accept=HTML_ACCEPT)
        sniffed = sniff(first)
        if sniffed.feed_url is not None:
            first = self.fetcher.fetch(sniffed.feed_url, accept=FEED_ACCEPT)
            name = crawler_for_feed(first)
            return name, self.crawlers[name].crawl(first.url, first)
        return sniffed.crawler, self.crawlers[sniffed.crawler].crawl(url, first)
