"""What the warehouse hands out and takes in: pydantic records, never pynamodb objects.

Every datetime is timezone-aware UTC (naive input is taken as UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from llm_twin.domain.models import Category, Platform


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
RunStatus = Literal["running", "succeeded", "partial", "failed"]
LinkState = Literal["pending", "ok", "unchanged", "failed"]
MAX_LINK_INDEX = 99_999  # link items are keyed LINK#<5 digits>


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Author(_Record):
    author_id: str
    full_name: str
    links: list[str] = Field(default_factory=list, description="Canonical URLs, de-duplicated, in order.")
    schedule_enabled: bool = True
    created_at: UtcDateTime
    updated_at: UtcDateTime


class Document(_Record):
    document_id: str
    author_id: str
    author_name: str
    platform: Platform
    category: Category
    link: str
    title: str
    subtitle: str | None = None
    content: str
    content_hash: str
    published_at: UtcDateTime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    crawled_at: UtcDateTime = Field(description="Last time a crawl saw this document.")
    updated_at: UtcDateTime = Field(description="Last time its content changed.")
    version: int = Field(1, ge=1, description="+1 per content change.")


class CollectionRun(_Record):
    run_id: str
    status: RunStatus
    requested: int = Field(ge=0, description="Links the run was asked to crawl.")
    authors: list[str] = Field(default_factory=list, description="Author ids of the run's links.")
    started_at: UtcDateTime
    finished_at: UtcDateTime | None = None
    counts: dict[str, int] = Field(default_factory=dict)


class RunLinkStatus(_Record):
    """One link of a collection run. Its fields are a superset of ``LinkReport``'s."""

    run_id: str
    index: int = Field(ge=0, le=MAX_LINK_INDEX)
    author_id: str
    link: str
    status: LinkState = "pending"
    crawler: str | None = None
    reason: str | None = None
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_items: int = 0
    updated_at: UtcDateTime


WarehouseRecord = Author | Document | CollectionRun | RunLinkStatus
