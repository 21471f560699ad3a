"""What the routes call, built lazily from settings and replaceable in tests and by the local server.

services = get_services()          # the installed Services, or the default for the environment
with use_services(fake): ...       # swap them (tests, the local server)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from llm_twin.api.errors import RagUnavailableError
from llm_twin.api.starter import CollectionStarter, LocalCollectionStarter, StepFunctionsStarter
from llm_twin.collection.service import CollectionService
from llm_twin.crawling.ssrf import AddressPolicy
from llm_twin.rag.models import DraftRequest, RagAnswer, RagRequest
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse


class RagBackend(Protocol):
    def answer(self, request: RagRequest) -> RagAnswer: ...

    def draft(self, request: DraftRequest) -> RagAnswer: ...


class UnavailableRag:
    """Placeholder until a RAG service can be built here: every call is a 503."""

    def answer(self, request: RagRequest) -> RagAnswer:
        raise RagUnavailableError("RAG service unavailable")

    def draft(self, request: DraftRequest) -> RagAnswer:
        raise RagUnavailableError("RAG service unavailable")


def default_rag(settings: Settings) -> RagBackend:
    """The RAG service for ``settings`` (``llm_twin.rag.factory.rag_service``), else the placeholder."""
    try:
        from llm_twin.rag.factory import rag_service  # type: ignore[import-not-found]
    except ImportError:
        return UnavailableRag()
    return rag_service(settings)


def default_starter(settings: Settings) -> CollectionStarter:
    if settings.collection_state_machine_arn:
        return StepFunctionsStarter(settings)
    return LocalCollectionStarter(settings)


@dataclass
class Services:
    settings: Settings
    starter: CollectionStarter
    rag_factory: Callable[[Settings], RagBackend] = default_rag
    _rag: RagBackend | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings)

    def collections(self) -> CollectionService:
        from llm_twin.collection.factory import collection_service

        return collection_service(self.settings)

    def link_policy(self) -> AddressPolicy:
        return AddressPolicy.from_hosts(self.settings.crawl_allow_hosts)

    def rag(self) -> RagBackend:
        with self._lock:
            if self._rag is None:
                self._rag = self.rag_factory(self.settings)
            return self._rag


_installed: Services | None = None
_defaults: dict[str, Services] = {}
_guard = threading.Lock()


def get_services() -> Services:
    """The installed services, else the default ones for the current environment (cached per config)."""
    with _guard:
        if _installed is not None:
            return _installed
        settings = Settings()
        key = settings.model_dump_json()
        services = _defaults.get(key)
        if services is None:
            services = _defaults[key] = Services(settings, default_starter(settings))
        return services


@contextmanager
def use_services(services: Services) -> Iterator[Services]:
    global _installed
    with _guard:
        previous, _installed = _installed, services
    try:
        yield services
    finally:
        with _guard:
            _installed = previous
