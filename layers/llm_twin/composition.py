"""One object per distinct configuration per process: how every composition root reuses its service
(model clients, index connections) across Lambda invocations and local commands."""

from __future__ import annotations

from collections.abc import Callable
from threading import Lock
from typing import Generic, TypeVar

from llm_twin.settings import Settings

T = TypeVar("T")


class PerConfiguration(Generic[T]):
    """``provider(settings=None)``: the object ``build`` made for these settings (read from the
    environment when omitted, as Lambda configures it and the local runtime exports it)."""

    def __init__(self, build: Callable[[Settings], T]) -> None:
        self._build = build
        self._built: dict[str, T] = {}
        self._lock = Lock()

    def __call__(self, settings: Settings | None = None) -> T:
        settings = settings or Settings()
        key = settings.model_dump_json()
        with self._lock:
            built = self._built.get(key)
            if built is None:
                built = self._built[key] = self._build(settings)
            return built
