"""A CLI command's local AWS: moto's server with the warehouse snapshot restored; on the way out,
changes reach the vector index (the stream → the feature handler) and the snapshot is saved."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from llm_twin.features.stream_filter import DOCUMENT_FILTER_PATTERNS, STREAM_BATCH_SIZE
from llm_twin.local.aws import LocalAws
from llm_twin.local.stream_poller import DrainReport, StreamPoller
from llm_twin.local.streams import StreamCursor
from llm_twin.local.workflows import handler_of
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse

FEATURE_HANDLER = "feature_indexer"


@dataclass
class LocalSession:
    aws: LocalAws
    cursor: StreamCursor | None

    @property
    def settings(self) -> Settings:
        return self.aws.settings

    def warehouse(self) -> Warehouse:
        return self.aws.warehouse()

    def poller(self) -> StreamPoller:
        return StreamPoller(
            self.settings,
            handler_of(FEATURE_HANDLER),
            state_dir=self.settings.home / "features",
            filter_patterns=DOCUMENT_FILTER_PATTERNS,  # the event source mapping's FilterCriteria
            batch_size=STREAM_BATCH_SIZE,  # and its batch size
        )

    def sync_features(self) -> DrainReport:
        """Deliver every warehouse change since the last sync to the feature handler (as the event
        source mapping does on AWS). Safe to call repeatedly."""
        if self.cursor is None:
            raise RuntimeError("the local table has no stream")
        report, self.cursor = self.poller().drain(self.cursor)
        return report


@contextmanager
def local_session(settings: Settings, *, mutating: bool) -> Iterator[LocalSession]:
    """Run a command against the local warehouse. A mutating command's writes are saved and indexed
    even when it fails half-way, so nothing already collected is lost."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with LocalAws(settings) as aws:
        session = LocalSession(aws, aws.restore_cursor)
        try:
            yield session
        finally:
            if mutating:
                aws.save_snapshot()
                session.sync_features()
