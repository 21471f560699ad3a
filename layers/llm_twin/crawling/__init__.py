"""Crawling: the guarded fetcher, readable-content extraction, the crawlers and their dispatcher.

    fetcher = Fetcher(settings)
    name, outcome = Dispatcher(fetcher, settings).crawl("https://medium.com/@someone")

LinkedIn cannot be crawled: :func:`parse_linkedin_export` reads the official data export instead.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_twin.crawling.article import ArticleCrawler
    from llm_twin.crawling.base import Crawler, CrawlOutcome
    from llm_twin.crawling.dispatcher import Dispatcher
    from llm_twin.crawling.fetcher import Fetcher, FetchResponse
    from llm_twin.crawling.github import GitHubCrawler
    from llm_twin.crawling.linkedin import parse_linkedin_export
    from llm_twin.crawling.medium import MediumCrawler
    from llm_twin.crawling.substack import SubstackCrawler

# Loaded on first use (PEP 562): the API function imports ``crawling.ssrf`` for its link checks and
# must not pay for bs4, lxml, feedparser and markdownify at cold start (~190 ms, docs/benchmarks.md).
_EXPORTS = {
    "ArticleCrawler": "article",
    "CrawlOutcome": "base",
    "Crawler": "base",
    "Dispatcher": "dispatcher",
    "FetchResponse": "fetcher",
    "Fetcher": "fetcher",
    "GitHubCrawler": "github",
    "MediumCrawler": "medium",
    "SubstackCrawler": "substack",
    "parse_linkedin_export": "linkedin",
}
__all__ = [
    "ArticleCrawler",
    "CrawlOutcome",
    "Crawler",
    "Dispatcher",
    "FetchResponse",
    "Fetcher",
    "GitHubCrawler",
    "MediumCrawler",
    "SubstackCrawler",
    "parse_linkedin_export",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
