"""Collection runs: one summary item and one item per link, under the partition ``RUN#<run_id>``."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import get_args

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from llm_twin.domain.models import LinkReport
from llm_twin.errors import InvalidInputError
from llm_twin.warehouse import schema
from llm_twin.warehouse.base import TableAccess, is_conditional_failure
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.models import link_key, run_key
from llm_twin.warehouse.records import (
    MAX_LINK_INDEX,
    CollectionRun,
    RunLinkStatus,
    RunStatus,
    as_utc,
)

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,80}$")  # a valid Step Functions execution name


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
        """Record what happened to one link (overwrites its previous status)."""
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
        self.models.link.from_record(status).save()
        return status

    def finish_run(
        self, run_id: str, status: RunStatus, counts: Mapping[str, int], now: datetime | None = None
    ) -> CollectionRun:
        """Set the final status, counts and ``finished_at`` of an existing run."""
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
        """The run and its link statuses sorted by index; None if the run is unknown."""
        run = self._get_run_record(run_id)
        if run is None:
            return None
        model = self.models.link
        pk, _ = link_key(run_id, 0)
        links = model.query(pk, model.sk.startswith(schema.LINK_PREFIX), consistent_read=True)
        return run, sorted((item.to_record() for item in links), key=lambda s: s.index)

    def list_runs(self, limit: int = 20) -> list[CollectionRun]:
        """Most recent first, through the sparse listing index (``gsi1pk = RUNS``, sorted by start)."""
        model = self.models.run
        items = model.gsi1.query(schema.GSI1_RUNS, scan_index_forward=False, limit=limit)
        return [item.to_record() for item in items]
