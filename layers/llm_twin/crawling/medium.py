"""Medium: an article page → one document; a profile (``/@user``) → its RSS feed → one per post."""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from llm_twin.crawling.base import PageCrawler, origin
from llm_twin.domain.models import Category, Platform
from llm_twin.errors import CrawlError
from llm_twin.ids import canonical_url

_PROFILE_PATH = re.compile(r"^/(@[^/]+)/?$")
MEDIUM_HOSTS = frozenset({"medium.com", "www.medium.com"})


class MediumCrawler(PageCrawler):
    name: ClassVar[str] = "medium"
    platform: ClassVar[Platform] = Platform.MEDIUM
    category: ClassVar[Category] = Category.ARTICLE
    content_selectors: ClassVar[tuple[str, ...]] = ("article",)
    title_selectors: ClassVar[tuple[str, ...]] = ("article h1", "h1")
    subtitle_selectors: ClassVar[tuple[str, ...]] = (".pw-subtitle-paragraph", "h1 + h2")
    drop_selectors: ClassVar[tuple[str, ...]] = (".speechify-ignore",)  # byline, claps and share bars

    def feed_url(self, url: str) -> str | None:
        parts = urlsplit(url)
        match = _PROFILE_PATH.match(parts.path)
        if match:  # https://medium.com/@user, or a profile on a custom domain
            return f"{origin(url)}/feed/{match.group(1)}"
        if parts.path in ("", "/"):
            if (parts.hostname or "") in MEDIUM_HOSTS:
                raise CrawlError("give a Medium profile (https://medium.com/@user) or an article URL")
            return f"{origin(url)}/feed"  # user.medium.com or a publication's own domain
        return None

    def link_for(self, url: str) -> str:
        """Medium links carry tracking queries (``?source=rss-...``): the article is the path."""
        parts = urlsplit(canonical_url(url))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
