"""Crawling: the guarded fetcher, readable-content extraction, the crawlers and their dispatcher.

    fetcher = Fetcher(settings)
    name, outcome = Dispatcher(fetcher, settings).crawl("https://medium.com/@someone")

LinkedIn cannot be crawled: :func:`parse_linkedin_export` reads the official data export instead.
"""

from __future__ import annotations

from llm_twin.crawling.article import ArticleCrawler
from llm_twin.crawling.base import Crawler, CrawlOutcome
from llm_twin.crawling.dispatcher import Dispatcher
from llm_twin.crawling.fetcher import Fetcher, FetchResponse
from llm_twin.crawling.github import GitHubCrawler
from llm_twin.crawling.linkedin import parse_linkedin_export
from llm_twin.crawling.medium import MediumCrawler
from llm_twin.crawling.substack import SubstackCrawler

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
