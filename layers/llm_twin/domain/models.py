"""Domain models shared by crawlers, the warehouse, the workflows and the API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class Platform(StrEnum):
    MEDIUM = "medium"
    SUBSTACK = "substack"
    GITHUB = "github"
    LINKEDIN = "linkedin"
    BLOG = "blog"  # any other article URL / personal blog


class Category(StrEnum):
    ARTICLE = "article"
    POST = "post"
    REPOSITORY = "repository"


class CrawledDocument(BaseModel):
    """One piece of the author's writing as a crawler returns it (before it reaches the warehouse)."""

    platform: Platform
    category: Category
    link: str = Field(description="Canonical URL of the document (for repository files: the file URL).")
    title: str
    subtitle: str | None = None
    content: str = Field(description="Markdown; code is kept byte-for-byte in fenced blocks.")
    published_at: datetime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


LinkStatus = Literal["pending", "ok", "unchanged", "failed"]
UpsertOutcome = Literal["new", "updated", "unchanged"]


class LinkReport(BaseModel):
    """What happened to one link of a collection run."""

    link: str
    status: LinkStatus
    crawler: str | None = None
    reason: str | None = None
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_items: int = 0
