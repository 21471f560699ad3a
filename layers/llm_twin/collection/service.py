"""Collection logic behind the three workflow states. Handlers parse events and call this; the
workflow (Step Functions on AWS, the local runner locally) sequences it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from pynamodb.exceptions import PynamoDBException

from llm_twin.collection.events import (
    CollectionRequest,
    CrawlEvent,
    CrawlFailure,
    CrawlReport,
    CrawlTarget,
    FinalizeEvent,
    RunLink,
    RunSummary,
    ValidatedRun,
)
from llm_twin.domain.models import CrawledDocument, LinkReport
from llm_twin.errors import FetchError, InvalidInputError, LlmTwinError, TransientStoreError
from llm_twin.ids import author_id as make_author_id
from llm_twin.warehouse.records import MAX_LINK_INDEX, CollectionRun, RunLinkStatus
from llm_twin.warehouse.repository import Warehouse, new_run_id
from llm_twin.warehouse.runs import DOCUMENT_COUNTERS, LINK_STATES, link_counts, run_counters

if TYPE_CHECKING:  # the crawlers (bs4, lxml, feedparser) load only where a crawl runs, not in the API
    from llm_twin.collection.run_objects import RunObjects
    from llm_twin.crawling.base import CrawlOutcome

# A run's links are stored as LINK#<5 digits>: a re-crawl of every author takes at most this many.
MAX_LINKS_PER_RECRAWL = MAX_LINK_INDEX + 1

# DynamoDB answers worth a retry; anything else from the store is a bug or bad data.
_TRANSIENT_STORE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


class LinkCrawler(Protocol):
    def crawl(self, url: str) -> tuple[str, CrawlOutcome]: ...


class CollectionService:
    def __init__(
        self,
        warehouse: Warehouse,
        crawler: LinkCrawler,
        check_link: Callable[[str], object],
        max_concurrency: int,
        run_objects: RunObjects | None = None,
    ) -> None:
        """``check_link`` raises InvalidInputError/FetchError for a link that can never be crawled
        (malformed, wrong scheme, blocked address) without touching the network. ``run_objects``
        stores a run's targets for the workflow (needed by :meth:`validate` only)."""
        self._warehouse = warehouse
        self._crawler = crawler
        self._check_link = check_link
        self._max_concurrency = max_concurrency
        self._run_objects = run_objects

    # --- Validate ---------------------------------------------------------------------------------
    def validate(self, request: CollectionRequest) -> ValidatedRun:
        """Turn a request into crawl targets; malformed links are reported as failed, not crawled.

        The targets go to S3 (``runs/<run_id>/targets.json``) for the workflow's Distributed Map; the
        returned run says where, so its size does not depend on the number of links."""
        if self._run_objects is None:
            raise RuntimeError("CollectionService.validate needs run_objects (where targets are stored)")
        run_id = request.run_id or new_run_id()
        candidates = self._candidates(request)
        targets: list[CrawlTarget] = []
        rejected: list[tuple[CrawlTarget, str]] = []
        for index, (author_id, author_name, link) in enumerate(candidates):
            target = CrawlTarget(index=index, author_id=author_id, author_name=author_name, link=link)
            problem = self._link_problem(link)
            if problem:
                rejected.append((target, problem))
            else:
                targets.append(target)
        everything = sorted([*targets, *(target for target, _ in rejected)], key=lambda t: t.index)
        self._warehouse.create_run(run_id, [(t.index, t.author_id, t.link) for t in everything])
        for target, problem in rejected:
            self._warehouse.put_link_status(
                run_id,
                target.index,
                LinkReport(link=target.link, status="failed", reason=f"rejected: {problem}"),
                author_id=target.author_id,
            )
        return ValidatedRun(
            run_id=run_id,
            max_concurrency=self._max_concurrency,
            link_count=len(targets),
            targets=self._run_objects.put_targets(run_id, targets),
            results=self._run_objects.results(run_id),
        )

    def _candidates(self, request: CollectionRequest) -> list[tuple[str, str, str]]:
        if request.all_authors:
            pairs = [
                (author.author_id, author.full_name, link)
                for author in self._warehouse.list_authors()
                if author.schedule_enabled
                for link in author.links
            ]
            if len(pairs) > MAX_LINKS_PER_RECRAWL:
                from llm_twin.observability import logger

                logger.warning("re-crawl truncated", links=len(pairs), crawled=MAX_LINKS_PER_RECRAWL)
            return pairs[:MAX_LINKS_PER_RECRAWL]
        if not request.author or not request.links:
            raise InvalidInputError("a collection needs an author and at least one link (or all_authors)")
        author_id = make_author_id(request.author)
        valid = [link for link in request.links if not self._link_problem(link)]
        self._warehouse.upsert_author(request.author, valid)
        unique = list(dict.fromkeys(link.strip() for link in request.links))
        return [(author_id, request.author, link) for link in unique]

    def _link_problem(self, link: str) -> str | None:
        try:
            self._check_link(link.strip())
        except (FetchError, InvalidInputError) as exc:
            return str(exc)
        return None

    # --- CrawlLink --------------------------------------------------------------------------------
    def crawl(self, event: CrawlEvent) -> CrawlReport:
        """Crawl one link into the warehouse. Permanent problems become a failed report; transient
        ones raise (TransientFetchError / TransientStoreError) so the workflow retries them."""
        target = event.target
        if event.failure is not None:
            return self._record(event, self._failed(target, _failure_reason(event.failure)))
        try:
            crawler_name, outcome = self._crawler.crawl(target.link)
        except FetchError as exc:
            if exc.transient:
                raise
            return self._record(event, self._failed(target, str(exc)))
        except LlmTwinError as exc:
            return self._record(event, self._failed(target, str(exc)))
        outcomes = self.store(target.author_id, target.author_name, outcome.documents)
        report = _report(target, crawler_name, outcomes, outcome.item_errors)
        return self._record(event, report)

    def store(self, author_id: str, author_name: str, documents: list[CrawledDocument]) -> Counter[str]:
        """Upsert documents; counts of new / updated / unchanged."""
        outcomes: Counter[str] = Counter()
        with _store_errors():
            for document in documents:
                outcomes[self._warehouse.upsert_document(author_id, author_name, document)] += 1
        return outcomes

    def import_documents(self, author_name: str, documents: list[CrawledDocument]) -> Counter[str]:
        """Store documents that did not come from a crawl (e.g. a LinkedIn export) for an author."""
        author = self._warehouse.upsert_author(author_name)
        return self.store(author.author_id, author.full_name, documents)

    def _record(self, event: CrawlEvent, report: CrawlReport) -> CrawlReport:
        with _store_errors():
            self._warehouse.put_link_status(
                event.run_id, event.target.index, report, author_id=event.target.author_id
            )
        return report

    @staticmethod
    def _failed(target: CrawlTarget, reason: str) -> CrawlReport:
        return CrawlReport(target=target, link=target.link, status="failed", reason=reason)

    # --- Finalize ---------------------------------------------------------------------------------
    def finalize(self, event: FinalizeEvent, now: datetime | None = None) -> RunSummary:
        """Close the run: a link without a recorded outcome is failed, the summary is stored (its counts
        recounted from the links, so the run item's counters end exact whatever happened before)."""
        stored = self._warehouse.get_run(event.run_id)
        if stored is None:
            raise InvalidInputError(f"unknown run {event.run_id}")
        run, statuses = stored
        pending = [link for link in statuses if link.status == "pending"]
        for link in pending:
            lost = LinkReport(link=link.link, status="failed", reason="no crawl outcome was recorded")
            self._warehouse.put_link_status(event.run_id, link.index, lost, author_id=link.author_id)
        if pending:
            run, statuses = self._warehouse.get_run(event.run_id) or (run, statuses)
        counts = link_counts(statuses)
        summary = _summary(run, statuses, counts)
        self._warehouse.finish_run(event.run_id, summary.status, counts, now=now)
        return self.summary(event.run_id) or summary

    def summary(self, run_id: str) -> RunSummary | None:
        """The run's whole per-link report as stored (every link read); status derived from the links'
        outcomes. For the CLI and Finalize; the API reads a page at a time (:meth:`summary_page`)."""
        stored = self._warehouse.get_run(run_id)
        if stored is None:
            return None
        run, statuses = stored
        return _summary(run, statuses, link_counts(statuses))

    def summary_page(
        self, run_id: str, limit: int, after: int | None = None
    ) -> tuple[RunSummary, int | None] | None:
        """The run's status and whole-run counts with at most ``limit`` of its links after link index
        ``after``, and the index to continue after (None on the last page); None if the run is unknown.

        Reads the run item and one page of links: status and counts come from the run item's counters,
        kept by every link write; only a run without them (written before they existed) is recounted."""
        stored = self._warehouse.get_run_page(run_id, limit, after)
        if stored is None:
            return None
        run, statuses, next_after = stored
        counts = run_counters(run)
        if counts is None:
            full = self._warehouse.get_run(run_id)
            counts = link_counts(full[1] if full is not None else statuses)
        return _summary(run, statuses, counts), next_after


def _summary(run: CollectionRun, statuses: list[RunLinkStatus], counts: dict[str, int]) -> RunSummary:
    """A run's report: ``statuses`` (all its links, or a page of them) and ``counts`` (for the whole run,
    every key of ``zero_counts``). Status: running while a link is pending, then succeeded (every link ok
    or unchanged), partial or failed (none). The reported counts omit link states no link is in."""
    links = [RunLink.model_validate(status.model_dump()) for status in statuses]
    total = sum(counts[state] for state in LINK_STATES)
    good = counts["ok"] + counts["unchanged"]
    if counts["pending"]:
        status = "running"
    else:
        status = "succeeded" if good == total else ("partial" if good else "failed")
    reported = {state: counts[state] for state in LINK_STATES if counts[state]}
    reported.update({key: counts[key] for key in DOCUMENT_COUNTERS})
    return RunSummary(
        run_id=run.run_id,
        status=status,
        started_at=_iso(run.started_at),
        finished_at=_iso(run.finished_at) if run.finished_at else None,
        links=links,
        counts=reported,
    )


def _report(
    target: CrawlTarget, crawler_name: str, outcomes: Counter[str], item_errors: list[str]
) -> CrawlReport:
    written = sum(outcomes.values())
    if written == 0:
        reason = "; ".join(item_errors) if item_errors else "no content found at this link"
        status, failed_reason = "failed", reason
    else:
        status = "unchanged" if outcomes["unchanged"] == written else "ok"
        failed_reason = "; ".join(item_errors[:5]) or None
    return CrawlReport(
        target=target,
        link=target.link,
        status=status,
        crawler=crawler_name,
        reason=failed_reason,
        new=outcomes["new"],
        updated=outcomes["updated"],
        unchanged=outcomes["unchanged"],
        failed_items=len(item_errors),
    )


def lambda_error_message(cause: str | None) -> str:
    """Lambda errors reach Step Functions as ``{"errorMessage", "errorType", ...}`` in ``Cause``:
    the message, or the raw cause when it is not such a document."""
    message = cause or ""
    try:
        parsed = json.loads(message)
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            message = str(parsed["errorMessage"])
    except ValueError:
        pass
    return message


def _failure_reason(failure: CrawlFailure) -> str:
    message = lambda_error_message(failure.cause)
    return f"{failure.error}: {message}" if message else failure.error


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value) if value is not None else ""


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn DynamoDB throttling/outages into TransientStoreError so the workflow retries the link."""
    try:
        yield
    except PynamoDBException as exc:
        code = getattr(exc, "cause_response_code", None)
        if code is None or code in _TRANSIENT_STORE_CODES:
            raise TransientStoreError(f"warehouse unavailable: {exc}") from exc
        raise
