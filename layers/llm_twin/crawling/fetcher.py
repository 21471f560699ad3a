"""The guarded HTTP fetcher every crawler uses: SSRF guard, timeouts, size cap, retries, redirects."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from urllib.parse import urljoin

import requests

from llm_twin.crawling.encoding import decode_body
from llm_twin.crawling.ssrf import AddressPolicy, GuardedHTTPAdapter
from llm_twin.errors import (
    FetchError,
    HttpStatusError,
    InvalidUrlError,
    ResponseTooLargeError,
    TransientFetchError,
)
from llm_twin.settings import Settings

DEFAULT_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class FetchResponse:
    """A fully read response. ``headers`` keys are lower-case; ``url`` is the URL after redirects."""

    url: str
    status: int
    headers: dict[str, str]
    content: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @cached_property
    def text(self) -> str:
        return decode_body(self.content, self.headers.get("content-type"))


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _Watchdog:
    """Shuts down the sockets of one attempt when its wall-clock budget runs out (slow-drip servers)."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def register(self, sock: socket.socket) -> None:
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            if self.expired:
                self._shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        # The plain socket method: on a TLS socket it unblocks the reader without touching SSL state.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Fetcher:
    """``fetch(url)`` → :class:`FetchResponse`, or a :class:`~llm_twin.errors.FetchError`.

    Each attempt (connect, headers and body) must finish within ``timeout_s`` (default
    ``settings.crawl_timeout_s``) of wall-clock time; 429/5xx/connection errors are retried
    ``crawl_max_retries`` times with exponential backoff and jitter, then raise TransientFetchError.
    """

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_retry_after_s: float = 30.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.policy = AddressPolicy.from_hosts(settings.crawl_allow_hosts)
        self._sleep = sleep
        self._max_retry_after_s = max_retry_after_s
        self._max_backoff_s = max_backoff_s
        self._local = threading.local()
        self.session = session or requests.Session()
        self.session.trust_env = False  # environment proxies would bypass the guard
        self.session.proxies.clear()
        adapter = GuardedHTTPAdapter(self.policy, socket_hook=self._register_socket)
        self.session.adapters.clear()  # a more specific adapter already mounted would bypass the guard
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = settings.crawl_user_agent

    def check_url(self, url: str) -> None:
        """Raise InvalidUrlError/BlockedUrlError for URLs the fetcher would refuse (no network)."""
        self.policy.check_url(url)

    def fetch(
        self,
        url: str,
        *,
        accept: str | None = None,
        max_bytes: int | None = None,
        timeout_s: float | None = None,
    ) -> FetchResponse:
        limit = max_bytes or self.settings.crawl_max_bytes
        budget = timeout_s or self.settings.crawl_timeout_s
        headers = {"Accept": accept or DEFAULT_ACCEPT}
        current = url
        for _ in range(self.settings.crawl_max_redirects + 1):
            self.policy.check_url(current)
            result = self._with_retries(current, headers, limit, budget)
            if isinstance(result, FetchResponse):
                return result
            current = result
        raise FetchError(f"more than {self.settings.crawl_max_redirects} redirects from {url}")

    # --- internals ---------------------------------------------------------------------------------

    def _register_socket(self, sock: socket.socket) -> None:
        watch: _Watchdog | None = getattr(self._local, "watch", None)
        if watch is not None:
            watch.register(sock)

    def _with_retries(
        self, url: str, headers: dict[str, str], limit: int, budget: float
    ) -> FetchResponse | str:
        retries = self.settings.crawl_max_retries
        for attempt in range(retries + 1):
            try:
                return self._attempt(url, headers, limit, budget)
            except _Retryable as exc:
                if attempt >= retries:
                    raise TransientFetchError(f"{exc} from {url} (after {attempt + 1} attempts)") from exc
                self._sleep(self._delay(attempt, exc.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        step = self.settings.crawl_backoff_s * 2**attempt
        delay = min(self._max_backoff_s, step / 2 + random.uniform(0, step / 2))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._max_retry_after_s))
        return delay

    def _attempt(self, url: str, headers: dict[str, str], limit: int, budget: float) -> FetchResponse | str:
        with _Watchdog(budget) as watch:
            self._local.watch = watch
            try:
                return self._send(url, headers, limit, budget, watch)
            finally:
                self._local.watch = None

    def _send(
        self, url: str, headers: dict[str, str], limit: int, budget: float, watch: _Watchdog
    ) -> FetchResponse | str:
        started = time.monotonic()
        try:
            response = self.session.get(
                url, headers=headers, allow_redirects=False, stream=True, timeout=(budget, budget)
            )
        except requests.exceptions.SSLError as exc:
            raise FetchError(f"TLS error for {url}: {exc}") from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = "deadline exceeded" if watch.expired else f"connection failed ({type(exc).__name__})"
            raise _Retryable(reason) from exc
        except (requests.exceptions.InvalidURL, ValueError) as exc:
            raise InvalidUrlError(f"malformed URL {url[:200]!r}: {exc}") from exc
        except requests.RequestException as exc:
            raise FetchError(f"request to {url} failed: {exc}") from exc
        with response:
            status = response.status_code
            if status in REDIRECT_STATUSES and response.headers.get("location"):
                return urljoin(url, response.headers["location"])
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise _Retryable(f"HTTP {status}", retry_after)
            if not 200 <= status < 300:
                raise HttpStatusError(url, status)
            content = self._read_body(response, url, limit, started + budget, watch)
            return FetchResponse(
                url=url,
                status=status,
                headers={k.lower(): v for k, v in response.headers.items()},
                content=content,
            )

    def _read_body(
        self, response: requests.Response, url: str, limit: int, deadline: float, watch: _Watchdog
    ) -> bytes:
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLargeError(f"{url} declares {declared} bytes (limit {limit})")
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
                total += len(chunk)
                if total > limit:
                    raise ResponseTooLargeError(f"{url} sent more than {limit} bytes")
                chunks.append(chunk)
                if watch.expired or time.monotonic() > deadline:
                    raise _Retryable("deadline exceeded")
        except requests.exceptions.ContentDecodingError as exc:
            raise FetchError(f"cannot decode the body of {url}: {exc}") from exc
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            reason = "deadline exceeded" if watch.expired else f"body read failed ({type(exc).__name__})"
            raise _Retryable(reason) from exc
        if watch.expired:
            raise _Retryable("deadline exceeded")
        return b"".join(chunks)
