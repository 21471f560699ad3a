"""Errors that cross module boundaries. Their class names are Step Functions error names."""

from __future__ import annotations


class LlmTwinError(Exception):
    """Base of every error llm-twin raises on purpose."""


class InvalidInputError(LlmTwinError, ValueError):
    """Bad input from a user or a caller: report it, never retry it."""


class FetchError(LlmTwinError):
    """A fetch failed. ``transient`` says whether a retry may succeed."""

    transient = False


class BlockedUrlError(FetchError):
    """The SSRF guard refused the URL (scheme, private/loopback/link-local/metadata address)."""


class InvalidUrlError(FetchError, InvalidInputError):
    """The URL is malformed."""


class ResponseTooLargeError(FetchError):
    """The body exceeded the configured maximum size."""


class HttpStatusError(FetchError):
    def __init__(self, url: str, status: int) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.url = url
        self.status = status
        self.transient = status == 429 or status >= 500


class TransientFetchError(FetchError):
    """Timeouts, connection resets, 429 and 5xx after the fetcher's own retries: the workflow retries."""

    transient = True


class CrawlError(LlmTwinError):
    """The page was fetched but could not be turned into a document (no content, broken archive...)."""


class ArchiveError(InvalidInputError):
    """A LinkedIn export or a repository tarball is malformed."""


class TransientStoreError(LlmTwinError):
    """The warehouse (DynamoDB) throttled or was unreachable: the workflow retries."""

    transient = True


class IndexMismatchError(LlmTwinError):
    """The vector index was built with another embedding model or dimension: rebuild it."""


class TransientIndexError(LlmTwinError):
    """The vector index (OpenSearch) or the embedder endpoint is unavailable: retry later."""

    transient = True


class LlmError(LlmTwinError):
    """The language model refused or failed a request for a reason a retry will not fix."""


class TransientLlmError(LlmError):
    """The model endpoint timed out, throttled or answered 5xx: retry later."""

    transient = True
