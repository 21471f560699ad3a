"""Payloads exchanged by the collection workflow's states (workflows/collection.asl.json).

Validate      <- {"request": CollectionRequest, "execution_id"}            -> ValidatedRun
CrawlLink     <- {"run_id", "target": CrawlTarget}                          -> CrawlReport
RecordFailure <- {"run_id", "target", "failure": {"error", "cause"}}       -> CrawlReport (failed)
Finalize      <- {"run_id"}                                                 -> RunSummary

Each link's outcome is written to the warehouse by the crawl function; the Map state keeps only
``{"status"}`` per link, so no state's payload grows with the number of links beyond the targets.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from llm_twin.domain.models import LinkReport

MAX_LINKS_PER_RUN = 500  # the targets list (~250 B per link) stays well below Step Functions' 256 KB


class CollectionRequest(BaseModel):
    """Start a collection. With ``author`` and ``links``: crawl those links for that author (the links
    are added to the author's profile). With ``all_authors``: re-crawl every author's saved links (the
    EventBridge schedule sends this)."""

    author: str | None = Field(None, min_length=1, max_length=200)
    links: list[str] = Field(default_factory=list, max_length=MAX_LINKS_PER_RUN)
    all_authors: bool = False
    run_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,80}$")


class CrawlTarget(BaseModel):
    index: int
    author_id: str
    author_name: str
    link: str


class ValidatedRun(BaseModel):
    run_id: str
    max_concurrency: int
    targets: list[CrawlTarget]


class CrawlFailure(BaseModel):
    """The error a crawl ended with after the workflow's retries (Step Functions' Catch output)."""

    error: str
    cause: str | None = None


class CrawlEvent(BaseModel):
    run_id: str
    target: CrawlTarget
    failure: CrawlFailure | None = Field(
        None, description="Set by the workflow's RecordFailure state: record this failure, do not crawl."
    )


class CrawlReport(LinkReport):
    target: CrawlTarget


class FinalizeEvent(BaseModel):
    run_id: str


class RunLink(LinkReport):
    """One link of a run as stored: its report plus where it sits in the run."""

    index: int
    author_id: str


class RunSummary(BaseModel):
    run_id: str
    status: str  # running | succeeded (every link ok/unchanged) | partial | failed (no link succeeded)
    started_at: str
    finished_at: str | None
    links: list[RunLink]
    counts: dict[str, int]
