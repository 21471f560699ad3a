"""Payloads exchanged by the collection workflow's states (workflows/collection.asl.json).

Validate      <- {"request": CollectionRequest, "execution_id"}            -> ValidatedRun
CrawlLink     <- {"run_id", "target": CrawlTarget}                          -> CrawlReport
RecordFailure <- {"run_id", "target", "failure": {"error", "cause"}}       -> CrawlReport (failed)
Finalize      <- {"run_id"}                                                 -> RunOutcome

No state carries a list that grows with the number of links: Validate writes the targets to S3
(``runs/<run_id>/targets.json``, read by the Distributed Map's ItemReader) and returns where they are;
each link's outcome is written to the warehouse by the crawl function (the child executions' results go
to S3 through the Map's ResultWriter); Finalize returns counts, and the per-link report stays in the
warehouse (``CollectionService.summary``, ``GET /collections/{run_id}``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from llm_twin.domain.models import LinkReport

MAX_LINKS_PER_RUN = 500  # links in one request (API body, CLI); a re-crawl of every author is not capped here


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


class TargetsObject(BaseModel):
    """The S3 object holding the run's targets as a JSON array (the Distributed Map's ItemReader)."""

    bucket: str
    key: str


class ResultsLocation(BaseModel):
    """Where the Distributed Map's ResultWriter writes the child executions' results."""

    bucket: str
    prefix: str


class ValidatedRun(BaseModel):
    """Validate's output: small and of constant size whatever the number of links."""

    run_id: str
    max_concurrency: int
    link_count: int = Field(description="Targets to crawl (rejected links are already reported).")
    targets: TargetsObject
    results: ResultsLocation


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


class RunOutcome(BaseModel):
    """A run's status and counts, without the per-link report: what Finalize returns (the execution's
    output), of the same size for 5 links or 20,000."""

    run_id: str
    status: str  # running | succeeded (every link ok/unchanged) | partial | failed (no link succeeded)
    started_at: str
    finished_at: str | None
    counts: dict[str, int]


class RunSummary(BaseModel):
    run_id: str
    status: str  # as RunOutcome.status
    started_at: str
    finished_at: str | None
    links: list[RunLink]
    counts: dict[str, int]

    def outcome(self) -> RunOutcome:
        """The summary without its links."""
        return RunOutcome.model_validate(self.model_dump(exclude={"links"}))
