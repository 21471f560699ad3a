"""The crawler protocol, the outcome type, and the page/feed logic Medium, Substack and blogs share."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, Field

from llm_twin.crawling.boilerplate import remove_boilerplate, remove_junk
from llm_twin.crawling.extract import extract_article, parse_html
from llm_twin.crawling.feeds import FeedItem, looks_like_feed, parse_feed
from llm_twin.crawling.fetcher import Fetcher, FetchResponse
from llm_twin.crawling.markdown import to_markdown, truncate_utf8
from llm_twin.domain.models import Category, CrawledDocument, Platform
from llm_twin.errors import CrawlError, FetchError, TransientFetchError
from llm_twin.ids import canonical_url
from llm_twin.settings import Settings

HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
FEED_ACCEPT = "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5"


class CrawlOutcome(BaseModel):
    """What one link yielded: documents, and per-item failures that did not stop the rest."""

    documents: list[CrawledDocument] = Field(default_factory=list)
    item_errors: list[str] = Field(default_factory=list)


@runtime_checkable
class Crawler(Protocol):
    name: str

    def crawl(self, url: str, first: FetchResponse | None = None) -> CrawlOutcome:
        """Crawl ``url``; ``first`` is its response when the caller already fetched it."""
        ...


def origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


class PageCrawler:
    """One page → one document; a feed (given as ``first``, or found by a subclass) → one per item."""

    name: ClassVar[str] = "article"
    platform: ClassVar[Platform] = Platform.BLOG
    category: ClassVar[Category] = Category.ARTICLE
    content_selectors: ClassVar[tuple[str, ...]] = ()
    title_selectors: ClassVar[tuple[str, ...]] = ()
    subtitle_selectors: ClassVar[tuple[str, ...]] = ()
    drop_selectors: ClassVar[tuple[str, ...]] = ()

    def __init__(self, fetcher: Fetcher, settings: Settings | None = None) -> None:
        self.fetcher = fetcher
        self.settings = settings or fetcher.settings

    # --- entry point --------------------------------------------------------------------------------

    def crawl(self, url: str, first: FetchResponse | None = None) -> CrawlOutcome:
        if first is not None and looks_like_feed(first):
            return self.crawl_feed(first)
        feed_url = self.feed_url(url)
        if feed_url is not None:
            return self.crawl_feed(self.fetcher.fetch(feed_url, accept=FEED_ACCEPT))
        response = first or self.fetcher.fetch(url, accept=HTML_ACCEPT)
        if looks_like_feed(response):
            return self.crawl_feed(response)
        return CrawlOutcome(documents=[self.page_document(response)])

    def feed_url(self, url: str) -> str | None:
        """The feed to crawl instead of the page (a profile or publication home), else None."""
        return None

    def link_for(self, url: str) -> str:
        """The document's link: canonical, without ``utm_*`` tracking parameters."""
        parts = urlsplit(canonical_url(url))
        query = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")
        ]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    # --- pages --------------------------------------------------------------------------------------

    def page_document(self, response: FetchResponse) -> CrawledDocument:
        extracted = extract_article(
            response.text,
            url=response.url,
            max_bytes=self.settings.max_document_bytes,
            content_selectors=self.content_selectors,
            title_selectors=self.title_selectors,
            subtitle_selectors=self.subtitle_selectors,
            drop_selectors=self.drop_selectors,
        )
        metadata = {"source": "page"}
        if extracted.truncated:
            metadata["truncated"] = "true"
        return CrawledDocument(
            platform=self.platform,
            category=self.category,
            link=self.link_for(response.url),
            title=extracted.title,
            subtitle=extracted.subtitle,
            content=extracted.markdown,
            published_at=extracted.published_at,
            metadata=metadata,
        )

    # --- feeds --------------------------------------------------------------------------------------

    def crawl_feed(self, response: FetchResponse) -> CrawlOutcome:
        feed = parse_feed(response)
        if not feed.items:
            raise CrawlError(f"the feed {response.url} has no items")
        outcome = CrawlOutcome()
        transient = False
        for item in feed.items[: self.settings.crawl_max_feed_items]:
            try:
                outcome.documents.append(self.item_document(item))
            except (FetchError, CrawlError) as exc:
                fallback = self.fallback_document(item)
                if fallback is not None:
                    outcome.documents.append(fallback)
                    continue
                outcome.item_errors.append(f"{item.link or item.title or 'feed item'}: {exc}")
                transient = transient or getattr(exc, "transient", False)
        if not outcome.documents:
            first_error = outcome.item_errors[0] if outcome.item_errors else "no items"
            message = f"no post of the feed {response.url} could be crawled ({first_error})"
            raise TransientFetchError(message) if transient else CrawlError(message)
        return outcome

    def item_document(self, item: FeedItem) -> CrawledDocument:
        if not item.link:
            raise CrawlError("feed item without a link")
        document = self.page_document(self.fetcher.fetch(item.link, accept=HTML_ACCEPT))
        if document.published_at is None and item.published_at is not None:
            document = document.model_copy(update={"published_at": item.published_at})
        return document

    def fallback_document(self, item: FeedItem) -> CrawledDocument | None:
        """The item's own HTML (content:encoded) as a document, when its page could not be crawled."""
        if not item.link or not item.content_html:
            return None
        soup = parse_html(item.content_html)
        remove_junk(soup)
        remove_boilerplate(soup, drop_chrome=False)
        try:
            markdown = to_markdown(soup)
        except RecursionError:
            return None
        if not markdown.strip():
            return None
        markdown, truncated = truncate_utf8(markdown, self.settings.max_document_bytes)
        metadata = {"source": "feed"}
        if truncated:
            metadata["truncated"] = "true"
        return CrawledDocument(
            platform=self.platform,
            category=self.category,
            link=self.link_for(item.link),
            title=item.title or item.link,
            content=markdown,
            published_at=item.published_at,
            metadata=metadata,
        )
