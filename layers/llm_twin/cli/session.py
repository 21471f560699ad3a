"""A CLI command's local AWS: moto's server with the warehouse snapshot restored, saved back after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from llm_twin.local.aws import LocalAws
from llm_twin.settings import Settings


@contextmanager
def local_session(settings: Settings, *, mutating: bool) -> Iterator[LocalAws]:
    """Run a command against the local warehouse; a mutating command's writes are saved even when it
    fails half-way, so nothing already collected is lost."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with LocalAws(settings) as local:
        try:
            yield local
        finally:
            if mutating:
                local.save_snapshot()
