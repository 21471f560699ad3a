"""Substack: a publication (home or /archive) → its RSS feed → one document per post; a post → one."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from llm_twin.crawling.base import PageCrawler, origin
from llm_twin.domain.models import Category, Platform


class SubstackCrawler(PageCrawler):
    name: ClassVar[str] = "substack"
    platform: ClassVar[Platform] = Platform.SUBSTACK
    category: ClassVar[Category] = Category.POST
    content_selectors: ClassVar[tuple[str, ...]] = (".available-content", ".body.markup")
    title_selectors: ClassVar[tuple[str, ...]] = ("h1.post-title", "h1")
    subtitle_selectors: ClassVar[tuple[str, ...]] = ("h3.subtitle",)

    def feed_url(self, url: str) -> str | None:
        path = urlsplit(url).path.rstrip("/")
        if path in ("", "/archive"):
            return f"{origin(url)}/feed"
        return None
