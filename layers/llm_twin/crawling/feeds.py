"""RSS/Atom detection and parsing (feedparser, fed bytes only: it never fetches or opens files)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime

import feedparser

from llm_twin.crawling.extract import clean_text, parse_datetime
from llm_twin.crawling.fetcher import FetchResponse
from llm_twin.errors import CrawlError

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+xml",
                        "application/rdf+xml"})  # fmt: skip
_FEED_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]{0,300}\?>\s*)?(?:(?:<!--.*?-->|<\?xml-stylesheet[^>]*>|<!DOCTYPE[^>]*>)\s*)*"
    rb"<(?:rss|feed|rdf:RDF)[\s>]",
    re.S | re.I,
)
_HTML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<(?:!doctype html|html)", re.I)


@dataclass(frozen=True)
class FeedItem:
    link: str | None
    title: str | None
    published_at: datetime | None
    content_html: str | None  # content:encoded / Atom content, else the summary


@dataclass(frozen=True)
class Feed:
    url: str
    title: str | None
    generator: str
    items: list[FeedItem]


def looks_like_feed(response: FetchResponse) -> bool:
    head = response.content[:4096]
    if _FEED_START.match(head):
        return True
    return response.content_type in FEED_TYPES and not _HTML_START.match(head)


def _entry_content(entry: feedparser.FeedParserDict) -> str | None:
    for content in entry.get("content") or []:
        value = content.get("value")
        if value and value.strip():
            return str(value)
    summary = entry.get("summary")
    return str(summary) if summary else None


def _entry_date(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published", "updated", "created"):
        parsed = parse_datetime(entry.get(key))
        if parsed:
            return parsed
    return None


def parse_feed(response: FetchResponse) -> Feed:
    """Parse an RSS/Atom response; CrawlError when it is not a readable feed."""
    parsed = feedparser.parse(
        io.BytesIO(response.content),
        response_headers={
            "content-location": response.url,
            "content-type": response.headers.get("content-type", "application/xml"),
        },
    )
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception") or "unknown format"
        raise CrawlError(f"{response.url} is not a readable RSS/Atom feed: {reason}")
    feed = parsed.feed
    generator = str(feed.get("generator") or "")
    detail = feed.get("generator_detail") or {}
    generator = " ".join(filter(None, [generator, str(detail.get("name") or "")]))
    items = [
        FeedItem(
            link=(str(entry.get("link")).strip() or None) if entry.get("link") else None,
            title=clean_text(entry.get("title")),
            published_at=_entry_date(entry),
            content_html=_entry_content(entry),
        )
        for entry in parsed.entries
    ]
    return Feed(url=response.url, title=clean_text(feed.get("title")), generator=generator, items=items)
