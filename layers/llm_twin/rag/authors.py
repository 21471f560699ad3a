"""The author list a RAG request reads (self-query grounding, author resolution, persona), cached.

Authors change rarely and every request needs the whole list: a warm function re-reads it (one
DynamoDB Query) at most every ``ttl_s`` seconds instead of on every request. Staleness is bounded and
harmless: a request naming an author the cached list lacks re-reads it at once (so a just-created
author is never refused), and an empty list is never served from the cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from llm_twin.warehouse.records import Author


class AuthorDirectory(Protocol):
    def get_author(self, author_id: str) -> Author | None: ...
    def list_authors(self) -> list[Author]: ...


class CachedAuthors:
    def __init__(
        self, directory: AuthorDirectory, ttl_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._directory = directory
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Author]] | None = None

    def get_author(self, author_id: str) -> Author | None:
        return self._directory.get_author(author_id)

    def list_authors(self, *, fresh: bool = False) -> list[Author]:
        now = self._clock()
        with self._lock:
            cached = self._cached
        if not fresh and cached is not None and now - cached[0] < self._ttl_s and cached[1]:
            return list(cached[1])
        authors = self._directory.list_authors()
        with self._lock:
            self._cached = (now, list(authors))
        return authors
