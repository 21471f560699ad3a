"""Any article page or blog feed: platform blog, category article."""

from __future__ import annotations

from typing import ClassVar

from llm_twin.crawling.base import PageCrawler
from llm_twin.domain.models import Category, Platform


class ArticleCrawler(PageCrawler):
    name: ClassVar[str] = "article"
    platform: ClassVar[Platform] = Platform.BLOG
    category: ClassVar[Category] = Category.ARTICLE
