"""The local AWS runtime: moto's server in this process, the warehouse table and the collection bucket
on it, and the warehouse snapshot under the local home restored on start and written back on request.

    with LocalAws(settings) as local:          # or: with local_aws(settings) as local:
        warehouse = local.warehouse()          # local.settings has aws_endpoint_url set
        ...                                    # a stream poller starts from local.restore_cursor
        local.save_snapshot()                  # after every mutating command

One instance per process at a time (moto's state is process-wide). The snapshot is restored with the
table's stream off and the stream is enabled afterwards, so restored items emit no INSERT records:
``restore_cursor`` is the start of an empty stream and a poller never re-indexes the restored warehouse.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from llm_twin.collection.run_objects import create_bucket
from llm_twin.local.clients import clear_clients
from llm_twin.local.server import MotoServer, apply_environment, local_environment
from llm_twin.local.streams import StreamCursor, latest_cursor
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse
from llm_twin.warehouse.table import create_table, enable_stream, stream_arn
from llm_twin.warehouse.transfer import export_jsonl, import_jsonl

SNAPSHOT_NAME = "warehouse.jsonl"


def snapshot_path(settings: Settings) -> Path:
    return Path(settings.home) / SNAPSHOT_NAME


class LocalAws:
    _active: ClassVar[LocalAws | None] = None
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: Settings, *, restore: bool = True, host: str = "127.0.0.1") -> None:
        self._base = settings
        self._restore = restore
        self._server = MotoServer(host)
        self._settings: Settings | None = None
        self._saved_env: dict[str, str | None] | None = None
        self.restore_cursor: StreamCursor | None = None  # stream position right after the restore
        self.restored = 0  # items restored from the snapshot
        self.startup_seconds = 0.0

    @classmethod
    def active(cls) -> LocalAws | None:
        """The instance running in this process, if any (e.g. to share one across test fixtures)."""
        with cls._guard:
            return cls._active

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Settings:
        """Start moto, point this process at it, create the table, restore the snapshot."""
        began = time.perf_counter()
        with LocalAws._guard:
            if LocalAws._active is not None:
                raise RuntimeError("a LocalAws is already running in this process (one at a time)")
            LocalAws._active = self
        try:
            endpoint = self._server.start()
            self._server.reset()
            base = self._base
            env = local_environment(endpoint, base.region, base.table_name, str(Path(base.home).resolve()))
            self._saved_env = apply_environment(env)
            settings = self._settings = base.model_copy(update={"aws_endpoint_url": endpoint})
            snapshot = snapshot_path(settings)
            if self._restore and snapshot.exists():
                create_table(settings, stream=False)
                self.restored = import_jsonl(Warehouse(settings), snapshot)
                arn = enable_stream(settings)
            else:
                create_table(settings, stream=True)
                arn = stream_arn(settings)
            # Nothing has been written since the stream was enabled: its start *is* its end. (Cheaper
            # than latest_cursor(), which would create a streams client and walk every shard.)
            self.restore_cursor = StreamCursor(str(arn))
            create_bucket(settings)  # the collection runs' work files (the workflow's Distributed Map)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - began
        return settings

    def stop(self) -> None:
        """Stop the server and give the process its environment back. Safe to call twice."""
        endpoint = self._settings.aws_endpoint_url if self._settings else None
        try:
            self._server.stop()
        finally:
            if self._saved_env is not None:
                apply_environment(self._saved_env)
                self._saved_env = None
            if endpoint:
                clear_clients(endpoint)
            self._settings = None
            with LocalAws._guard:
                if LocalAws._active is self:
                    LocalAws._active = None

    def __enter__(self) -> LocalAws:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what commands use -----------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The settings given, with ``aws_endpoint_url`` pointing at the running server."""
        if self._settings is None:
            raise RuntimeError("LocalAws is not running")
        return self._settings

    @property
    def endpoint_url(self) -> str:
        return str(self.settings.aws_endpoint_url)

    @property
    def snapshot_path(self) -> Path:
        return snapshot_path(self._base)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings)

    def latest_cursor(self) -> StreamCursor:
        """The stream's current end (everything written so far counts as seen)."""
        return latest_cursor(self.settings, start=self.restore_cursor)

    def save_snapshot(self) -> int:
        """Write the whole warehouse to ``<home>/warehouse.jsonl`` atomically; returns the item count."""
        return export_jsonl(self.warehouse(), self.snapshot_path)

    def configure_moto(self, config: dict[str, Any]) -> None:
        """moto's runtime configuration, e.g. ``{"stepfunctions": {"execute_state_machine": True}}``."""
        self._server.post("/moto-api/config", json.dumps(config).encode())


@contextmanager
def local_aws(settings: Settings, *, restore: bool = True) -> Iterator[LocalAws]:
    with LocalAws(settings, restore=restore) as local:
        yield local
