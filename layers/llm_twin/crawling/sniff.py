"""Which crawler a fetched response needs, when its host does not say (custom domains, the demo)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, SoupStrainer

from llm_twin.crawling.extract import feed_links, meta_values
from llm_twin.crawling.feeds import looks_like_feed, parse_feed
from llm_twin.crawling.fetcher import FetchResponse

SNIFF_CHARS = 1_000_000


@dataclass(frozen=True)
class Sniffed:
    crawler: str  # "medium" | "substack" | "github" | "article"
    feed_url: str | None = None  # a site root advertising its feed: crawl that instead


def crawler_for_feed(response: FetchResponse) -> str:
    generator = parse_feed(response).generator.lower()
    if "substack" in generator:
        return "substack"
    if "medium" in generator:
        return "medium"
    return "article"


def sniff(response: FetchResponse) -> Sniffed:
    if response.content[:2] == b"\x1f\x8b":  # a gzipped tarball
        return Sniffed("github")
    if looks_like_feed(response):
        return Sniffed(crawler_for_feed(response))
    text = response.text[:SNIFF_CHARS]
    head = BeautifulSoup(text.replace("\x00", ""), "lxml", parse_only=SoupStrainer(["meta", "link"]))
    meta = meta_values(head)
    site = meta.get("og:site_name", "").strip().lower()
    if site == "medium":
        return Sniffed("medium")
    if "substack" in meta.get("generator", "").lower() or "substackcdn.com" in text:
        return Sniffed("substack")
    if site == "github":
        return Sniffed("github")
    if urlsplit(response.url).path in ("", "/"):
        feeds = feed_links(head, response.url)
        if feeds:
            return Sniffed("article", feed_url=feeds[0])
    return Sniffed("article")
