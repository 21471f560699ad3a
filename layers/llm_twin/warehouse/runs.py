"""Collection runs: one summary item and one item per link, under the partition ``RUN#<run_id>``.

The run item keeps the run's counters (links per state, documents new / updated / unchanged), moved by
every link write, so a status poll reads the run item and one page of links, never every link (a
re-crawl of every author has up to 100,000). Finalize stores the counters recounted from the links.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import get_args

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition

from llm_twin.domain.models import LinkReport
from llm_twin.errors import InvalidInputError, TransientStoreError
from llm_twin.warehouse import schema
from llm_twin.warehouse.base import TableAccess, is_conditional_failure
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.models import LinkStatusItem, link_key, run_key
from llm_twin.warehouse.records import (
    MAX_LINK_INDEX,
    CollectionRun,
    LinkState,
    RunLinkStatus,
    RunStatus,
    as_utc,
)

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,80}$")  # a valid Step Functions execution name
LINK_STATES: tuple[str, ...] = get_args(LinkState)  # pending, ok, unchanged, failed
DOCUMENT_COUNTERS = {  # counter -> the link field it sums
    "documents_new": "new",
    "documents_updated": "updated",
    "documents_unchanged": "unchanged",
}
LINK_WRITE_ATTEMPTS = 5  # a link write that loses a race (the link changed since read) is retried

# What a link adds to its run's counters: (state, new, updated, unchanged). None: no link item.
_Counted = tuple[str, int, int, int]
_PENDING: _Counted = ("pending", 0, 0, 0)  # as create_run writes every link


def zero_counts() -> dict[str, int]:
    """A run's counters before any link has an outcome: one per link state, then the document counts."""
    return {**dict.fromkeys(LINK_STATES, 0), **dict.fromkeys(DOCUMENT_COUNTERS, 0)}


def link_counts(links: Iterable[RunLinkStatus | LinkReport]) -> dict[str, int]:
    """The counters recomputed from a run's links (every key, zeros included)."""
    counts = zero_counts()
    for link in links:
        counts[link.status] += 1
        for key, field in DOCUMENT_COUNTERS.items():
            counts[key] += getattr(link, field)
    return counts


def run_counters(run: CollectionRun) -> dict[str, int] | None:
    """The run item's counters if they account for every link (each key present, none negative, the
    link states summing to ``requested``); None otherwise: the counts a caller stored with
    ``finish_run`` or a run written before the counters existed (recount from the links)."""
    counts = run.counts
    if any(counts.get(key, -1) < 0 for key in zero_counts()):
        return None
    if sum(counts[state] for state in LINK_STATES) != run.requested:
        return None
    return {key: counts[key] for key in zero_counts()}


def _counted(status: RunLinkStatus) -> _Counted:
    return (status.status, status.new, status.updated, status.unchanged)


def _deltas(before: _Counted | None, after: _Counted) -> dict[str, int]:
    """What replacing ``before`` by ``after`` changes in the run's counters (non-zero changes only)."""
    change = dict.fromkeys(zero_counts(), 0)
    change[after[0]] += 1
    if before is not None:
        change[before[0]] -= 1
    for position, key in enumerate(DOCUMENT_COUNTERS, start=1):
        change[key] += after[position] - (before[position] if before is not None else 0)
    return {key: value for key, value in change.items() if value}


def _is(model: type[LinkStatusItem], counted: _Counted | None) -> Condition:
    """The condition that the stored link is still the one the counters' change was computed from."""
    if counted is None:
        return model.pk.does_not_exist()
    state, new, updated, unchanged = counted
    return (
        (model.status == state)
        & (model.new == new)
        & (model.updated == updated)
        & (model.unchanged == unchanged)
    )


def new_run_id(now: datetime | None = None) -> str:
    """``20261129T134859Z-1a2b3c``: sorts by start time, valid as a Step Functions execution name."""
    moment = as_utc(now) if now is not None else datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _check_run_id(run_id: str) -> None:
    if not RUN_ID_PATTERN.match(run_id):
        raise InvalidInputError(f"invalid run id {run_id!r} (letters, digits, '_' and '-', at most 80)")


class RunsMixin(TableAccess):
    def create_run(
        self, run_id: str, targets: Sequence[tuple[int, str, str]], now: datetime | None = None
    ) -> CollectionRun:
        """Record a run as ``running`` and each ``(index, author_id, link)`` target as ``pending``.
        Idempotent: if the run already exists (a retried Validate state) it is returned untouched."""
        _check_run_id(run_id)
        indexes = [index for index, _, _ in targets]
        if len(set(indexes)) != len(indexes) or any(not 0 <= i <= MAX_LINK_INDEX for i in indexes):
            raise InvalidInputError(f"run {run_id}: link indexes must be unique, 0..{MAX_LINK_INDEX}")
        existing = self._get_run_record(run_id)
        if existing is not None:
            return existing
        now = self._now(now)
        models = self.models
        with models.link.batch_write() as batch:
            for index, author_id, link in targets:
                status = RunLinkStatus(
                    run_id=run_id, index=index, author_id=author_id, link=link, updated_at=now
                )
                batch.save(models.link.from_record(status))
        run = CollectionRun(
            run_id=run_id,
            status="running",
            requested=len(targets),
            authors=list(dict.fromkeys(author_id for _, author_id, _ in targets)),
            started_at=now,
            counts={**zero_counts(), "pending": len(targets)},
        )
        try:
            models.run.from_record(run).save(condition=models.run.pk.does_not_exist())
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise
            return self._get_run_record(run_id) or run  # created concurrently by the same request
        return run

    def put_link_status(
        self,
        run_id: str,
        index: int,
        report: LinkReport,
        author_id: str,
        now: datetime | None = None,
    ) -> RunLinkStatus:
        """Record what happened to one link (overwrites its previous status), then add what that
        changes to the run's counters.

        The link write is conditional on the link being what the change was computed from: first the
        link as create_run wrote it (pending, no read); when it is not (a retried crawl, a rejected link
        written again, a concurrent writer) it is re-read and the write retried, so an outcome written
        twice is counted once and concurrent changes add up. The counters then move by one atomic
        ``SET counts.k = counts.k + delta`` on the run item, skipped for a run without counters (unknown,
        or recorded before they existed). Raises TransientStoreError after LINK_WRITE_ATTEMPTS lost races.
        """
        status = RunLinkStatus(
            run_id=run_id,
            index=index,
            author_id=author_id,
            link=report.link,
            status=report.status,
            crawler=report.crawler,
            reason=report.reason,
            new=report.new,
            updated=report.updated,
            unchanged=report.unchanged,
            failed_items=report.failed_items,
            updated_at=self._now(now),
        )
        models = self.models
        item = models.link.from_record(status)
        before: _Counted | None = _PENDING
        for _ in range(LINK_WRITE_ATTEMPTS):
            try:
                item.save(condition=_is(models.link, before))
            except PutError as exc:
                if not is_conditional_failure(exc):
                    raise
                before = self._counted_link(run_id, index)
                continue
            self._count(run_id, _deltas(before, _counted(status)))
            return status
        raise TransientStoreError(f"run {run_id} link {index}: lost {LINK_WRITE_ATTEMPTS} write races")

    def _count(self, run_id: str, deltas: Mapping[str, int]) -> None:
        """Add ``deltas`` to the run's counters in one atomic update (nothing for a run without them)."""
        if not deltas:
            return
        model = self.models.run
        counts = model.counts
        try:
            model(*run_key(run_id)).update(
                actions=[counts[key].set((counts[key] | 0) + delta) for key, delta in deltas.items()],
                condition=counts["pending"].exists(),
            )
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise

    def _counted_link(self, run_id: str, index: int) -> _Counted | None:
        try:
            stored = self.models.link.get(*link_key(run_id, index), consistent_read=True)
        except DoesNotExist:
            return None
        return (stored.status, int(stored.new), int(stored.updated), int(stored.unchanged))

    def finish_run(
        self, run_id: str, status: RunStatus, counts: Mapping[str, int], now: datetime | None = None
    ) -> CollectionRun:
        """Set the final status, counts and ``finished_at`` of an existing run. ``counts`` replace the
        counters: give every key of :func:`zero_counts` (as Finalize does, recounted from the links) to
        keep them in use."""
        model = self.models.run
        if status not in get_args(RunStatus):
            raise InvalidInputError(f"invalid run status {status!r}")
        item = model(*run_key(run_id))
        try:
            item.update(
                actions=[
                    model.status.set(status),
                    model.counts.set({k: int(v) for k, v in counts.items()}),
                    model.finished_at.set(self._now(now)),
                ],
                condition=model.pk.exists(),
            )
        except UpdateError as exc:
            if is_conditional_failure(exc):
                raise NotFoundError(f"unknown run {run_id}") from exc
            raise
        return item.to_record()

    def _get_run_record(self, run_id: str) -> CollectionRun | None:
        try:
            return self.models.run.get(*run_key(run_id), consistent_read=True).to_record()
        except DoesNotExist:
            return None

    def get_run(self, run_id: str) -> tuple[CollectionRun, list[RunLinkStatus]] | None:
        """The run and all its link statuses sorted by index; None if the run is unknown."""
        run = self._get_run_record(run_id)
        if run is None:
            return None
        model = self.models.link
        pk, _ = link_key(run_id, 0)
        links = model.query(pk, model.sk.startswith(schema.LINK_PREFIX), consistent_read=True)
        return run, sorted((item.to_record() for item in links), key=lambda s: s.index)

    def get_run_page(
        self, run_id: str, limit: int, after: int | None = None
    ) -> tuple[CollectionRun, list[RunLinkStatus], int | None] | None:
        """The run and a page of its links in index order, from the one after index ``after`` (from the
        first when None), with the index to continue after (None: no link follows); None if the run is
        unknown.

        One Query request (``Limit = limit + 1``, exclusive start key ``LINK#<after>``): at most ``limit``
        links, fewer when DynamoDB's 1 MB response cap ends the page first, so a page stays small whatever
        the links' reasons; the extra item only tells whether another page follows."""
        if not 1 <= limit <= MAX_LINK_INDEX + 1:
            raise InvalidInputError(f"limit must be 1..{MAX_LINK_INDEX + 1}, not {limit}")
        if after is not None and not 0 <= after <= MAX_LINK_INDEX:
            raise InvalidInputError(f"after must be a link index 0..{MAX_LINK_INDEX}, not {after}")
        run = self._get_run_record(run_id)
        if run is None:
            return None
        model = self.models.link
        pk, _ = link_key(run_id, 0)
        start = None
        if after is not None:
            start = {schema.PARTITION_KEY: {"S": pk}, schema.SORT_KEY: {"S": link_key(run_id, after)[1]}}
        query = model.query(
            pk,
            model.sk.startswith(schema.LINK_PREFIX),
            consistent_read=True,
            page_size=limit + 1,
            last_evaluated_key=start,
        )
        page = next(query.page_iter)  # the first response only: no follow-up request
        links = [model.from_raw_data(raw).to_record() for raw in page.get("Items", [])]
        if len(links) > limit:
            return run, links[:limit], links[limit - 1].index
        more = bool(page.get("LastEvaluatedKey")) and bool(links)  # cut by the 1 MB cap
        return run, links, links[-1].index if more else None

    def list_runs(self, limit: int = 20) -> list[CollectionRun]:
        """Most recent first, through the sparse listing index (``gsi1pk = RUNS``, sorted by start)."""
        model = self.models.run
        items = model.gsi1.query(schema.GSI1_RUNS, scan_index_forward=False, limit=limit)
        return [item.to_record() for item in items]
