"""The AWS vector index: OpenSearch k-NN (managed domain), through opensearch-py with SigV4.

One logical index = an alias (``settings.index_name``) pointing at a versioned index
``<name>-v<timestamp>`` (a generation). ``ensure`` creates the first generation with the alias in the
same request; a rebuild writes a new generation and moves the alias in one ``_aliases`` call.

Writes: bulk ``index`` by ``_id`` = chunk_id with ``refresh=wait_for`` (read-your-writes for the
following delete_by_query / document_hash without forcing a segment per request);
``delete_by_query`` with ``refresh=true``. Errors: connection errors, 429 and 5xx are retried with
exponential backoff (``opensearch_max_retries``) and then raised as TransientIndexError; other 4xx
become VectorIndexError with OpenSearch's reason; an alias or index that does not exist yet reads as
empty.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from llm_twin.errors import InvalidInputError, TransientIndexError
from llm_twin.features.index import opensearch_body as bodies
from llm_twin.features.index.base import (
    VectorIndexError,
    check_compatible,
    check_k,
    dedupe,
    generation_name_of,
    is_generation_of,
    new_generation_name,
    single_hash,
    unit,
)
from llm_twin.features.models import (
    Chunk,
    IndexedChunk,
    IndexedDocument,
    IndexInfo,
    SearchFilters,
    SearchHit,
)

if TYPE_CHECKING:
    from llm_twin.features.index.base import GenerationalIndex
    from llm_twin.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
META_TTL_S = 30.0  # how long the alias → (index, model, dimension) resolution is reused
MAX_BULK_BYTES = 5 * 1024 * 1024  # t3.small/medium domains refuse HTTP bodies over 10 MiB
SIGV4_SERVICE = "es"  # a managed domain; Serverless (aoss) is not supported (docs/vector-index.md)


def build_client(settings: Settings) -> Any:
    """An opensearch-py client for ``settings.opensearch_endpoint`` (SigV4-signed unless auth=none).

    Credentials come from the default boto3 chain and refresh themselves (Lambda role keys rotate).
    The client does not retry: :class:`OpenSearchIndex` does, with backoff.
    """
    endpoint = settings.opensearch_endpoint
    if not endpoint:
        raise VectorIndexError("LLM_TWIN_OPENSEARCH_ENDPOINT is not set")
    if "://" not in endpoint:
        endpoint = f"https://{endpoint}"
    from opensearchpy import OpenSearch, RequestsHttpConnection

    auth = None
    if settings.opensearch_auth == "sigv4":
        import boto3
        from requests_aws4auth import AWS4Auth

        credentials = boto3.Session(region_name=settings.region).get_credentials()
        if credentials is None:
            raise VectorIndexError("no AWS credentials to sign OpenSearch requests (SigV4)")
        # refreshable_credentials: the boto3 credentials object is read at every request, so rotated
        # Lambda role keys (and their session token) are picked up without rebuilding the client.
        auth = AWS4Auth(region=settings.region, service=SIGV4_SERVICE, refreshable_credentials=credentials)
    return OpenSearch(
        hosts=[endpoint],
        http_auth=auth,
        connection_class=RequestsHttpConnection,
        use_ssl=endpoint.startswith("https://"),
        verify_certs=True,
        timeout=settings.opensearch_timeout_s,
        max_retries=0,
        retry_on_timeout=False,
    )


def _status(exc: Exception) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _reason(exc: Exception) -> str:
    info = getattr(exc, "info", None)
    if isinstance(info, dict):
        error = info.get("error")
        if isinstance(error, dict):
            return _error_reason(error)
    return str(getattr(exc, "error", exc))


def _error_reason(error: dict[str, Any]) -> str:
    """``type: reason`` of an OpenSearch error object (its root cause when it names one)."""
    root = (error.get("root_cause") or [error])[0]
    return f"{root.get('type', error.get('type'))}: {root.get('reason', error.get('reason'))}"


def _is_transient_status(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


class OpenSearchIndex:
    """VectorIndex (and GenerationalIndex) on an OpenSearch domain. ``generation=None`` addresses the
    alias; an index from :meth:`create_generation` is bound to its own concrete index."""

    def __init__(self, settings: Settings, *, client: Any = None, generation: str | None = None) -> None:
        self._settings = settings
        self._name = settings.index_name
        self._bound = generation
        self._client_obj = client
        self._lock = threading.Lock()
        self._meta: tuple[float, IndexInfo] | None = None

    # --- plumbing ---------------------------------------------------------------------------------
    @property
    def generation(self) -> str | None:
        if self._bound is not None:
            return self._bound
        info = self._resolve(fresh=True)
        return None if info is None else info.name

    @property
    def _target(self) -> str:
        return self._bound or self._name

    def _client(self) -> Any:
        if self._client_obj is None:
            with self._lock:
                if self._client_obj is None:
                    self._client_obj = build_client(self._settings)
        return self._client_obj

    def _call(self, operation: str, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """``fn(**kwargs)`` with retries on transient failures; NotFoundError passes through."""
        from opensearchpy.exceptions import NotFoundError, TransportError

        attempts = self._settings.opensearch_max_retries + 1
        for attempt in range(attempts):
            try:
                return fn(**kwargs)
            except NotFoundError:
                raise
            except TransportError as exc:  # ConnectionError/ConnectionTimeout are TransportErrors too
                status = _status(exc)
                if not _is_transient_status(status):
                    raise VectorIndexError(f"OpenSearch {operation}: HTTP {status}: {_reason(exc)}") from exc
                if attempt + 1 == attempts:
                    raise TransientIndexError(
                        f"OpenSearch {operation}: {status or 'connection error'} after {attempts} attempts"
                    ) from exc
                self._sleep(attempt)
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int) -> None:
        delay = self._settings.opensearch_backoff_s * (2**attempt)
        time.sleep(delay * (0.5 + random.random() / 2))

    def _resolve(self, *, fresh: bool = False) -> IndexInfo | None:
        """(concrete index, model, dimension) behind the target, cached for META_TTL_S;
        ``chunks`` is not filled in (0). None when the alias / index does not exist."""
        from opensearchpy.exceptions import NotFoundError

        now = time.monotonic()
        cached = self._meta
        if not fresh and cached is not None and now - cached[0] < META_TTL_S:
            return cached[1]
        try:
            mappings = self._call("get mapping", self._client().indices.get_mapping, index=self._target)
        except NotFoundError:
            self._meta = None  # not cached: the index may be created any moment
            return None
        name = min(mappings)  # two only during an ensure() race, which _settle() resolves
        meta = (mappings[name].get("mappings") or {}).get("_meta") or {}
        if "model_name" not in meta or "dimension" not in meta:
            raise VectorIndexError(
                f"index {name} was not created by llm-twin (no _meta): delete or rename it"
            )
        info = IndexInfo(name=name, model_name=meta["model_name"], dimension=int(meta["dimension"]), chunks=0)
        self._meta = (now, info)
        return info

    def _create_index(self, model_name: str, dimension: int, *, alias: bool) -> str:
        settings = self._settings
        name = new_generation_name(self._name)
        body = bodies.index_body(
            model_name=model_name,
            dimension=dimension,
            m=settings.hnsw_m,
            ef_construction=settings.hnsw_ef_construction,
            ef_search=settings.hnsw_ef_search,
            replicas=settings.opensearch_replicas,
            alias=self._name if alias else None,
        )
        self._call("create index", self._client().indices.create, index=name, body=body)
        return name

    def _settle(self, mine: str) -> None:
        """Two writers ensuring at once may both create a first generation: the alias then points at
        two indexes. The earliest name wins; a loser detaches and deletes its own (empty) index."""
        aliased = sorted(self._call("get alias", self._client().indices.get_alias, name=self._name))
        if len(aliased) > 1 and mine != aliased[0]:
            log.warning("ensure race: %s loses to %s", mine, aliased[0])
            self._call(
                "update aliases",
                self._client().indices.update_aliases,
                body={"actions": [{"remove_index": {"index": mine}}]},
            )

    def _count(self, index: str, filters: SearchFilters | None = None) -> int:
        from opensearchpy.exceptions import NotFoundError

        try:
            response = self._call(
                "count", self._client().count, index=index, body=bodies.count_query(filters)
            )
        except NotFoundError:
            return 0
        return int(response["count"])

    def _hits(self, response: dict[str, Any], score: Callable[[float], float]) -> list[SearchHit]:
        hits = []
        for hit in response["hits"]["hits"]:
            source = hit["_source"]
            source.pop(bodies.VECTOR_FIELD, None)
            hits.append(SearchHit(chunk=Chunk.model_validate(source), score=score(float(hit["_score"]))))
        hits.sort(key=lambda h: (-h.score, h.chunk.chunk_id))
        return hits

    def _search(self, operation: str, body: dict[str, Any]) -> dict[str, Any] | None:
        from opensearchpy.exceptions import NotFoundError

        try:
            return self._call(operation, self._client().search, index=self._target, body=body)
        except NotFoundError:
            return None

    # --- VectorIndex ------------------------------------------------------------------------------
    def ensure(self, model_name: str, dimension: int) -> IndexInfo:
        info = self._resolve(fresh=True)
        if info is None:
            if self._bound is not None:
                raise VectorIndexError(f"generation {self._bound} does not exist")
            mine = self._create_index(model_name, dimension, alias=True)
            self._settle(mine)
            info = self._resolve(fresh=True)
            if info is None:
                raise VectorIndexError(f"alias {self._name} vanished right after creation")
        check_compatible(info, model_name, dimension)
        return info.model_copy(update={"chunks": self._count(info.name)})

    def info(self) -> IndexInfo | None:
        info = self._resolve(fresh=True)
        return None if info is None else info.model_copy(update={"chunks": self._count(info.name)})

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        if not chunks:
            return
        info = self._resolve()
        if info is None:
            raise VectorIndexError("the index does not exist yet: call ensure(model_name, dimension) first")
        actions = [
            {
                "_op_type": "index",
                "_id": chunk.chunk_id,
                "_source": bodies.document(chunk, unit(chunk.vector, info.dimension)),
            }
            for chunk in dedupe(chunks)
        ]
        self._bulk(actions)

    def _bulk(self, actions: list[dict[str, Any]]) -> None:
        """helpers.bulk without its own retries; items rejected with 429/5xx are re-sent with
        backoff, any other item error is permanent."""
        from opensearchpy import helpers

        params: dict[str, Any] = {"refresh": "wait_for"}
        if self._bound is None:
            params["require_alias"] = "true"  # never auto-create a concrete index named like the alias
        attempts = self._settings.opensearch_max_retries + 1
        pending = actions
        for attempt in range(attempts):
            _, errors = self._call(
                "bulk",
                helpers.bulk,
                client=self._client(),
                actions=pending,
                index=self._target,  # POST /<alias>/_bulk: IAM can scope writes to the index path
                raise_on_error=False,
                chunk_size=500,
                max_chunk_bytes=MAX_BULK_BYTES,
                params=params,
            )
            retry: set[str] = set()
            for item in errors:
                result = next(iter(item.values()))
                status = int(result.get("status", 0))
                if not _is_transient_status(status):
                    error = result.get("error") or {}
                    reason = (
                        f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict) else error
                    )
                    raise VectorIndexError(
                        f"OpenSearch bulk: chunk {result.get('_id')}: HTTP {status}: {reason}"
                    )
                retry.add(str(result.get("_id")))
            if not retry:
                return
            if attempt + 1 == attempts:
                raise TransientIndexError(
                    f"OpenSearch bulk: {len(retry)} chunks rejected after {attempts} attempts"
                )
            pending = [action for action in pending if action["_id"] in retry]
            self._sleep(attempt)

    def delete_documents(self, document_ids: Sequence[str], *, keep: Sequence[str] = ()) -> int:
        from opensearchpy.exceptions import NotFoundError

        if not document_ids:
            return 0
        try:
            response = self._call(
                "delete_by_query",
                self._client().delete_by_query,
                index=self._target,
                body=bodies.documents_query(document_ids, keep),
                params={"refresh": "true", "conflicts": "proceed"},
            )
        except NotFoundError:
            return 0
        return int(response.get("deleted", 0))

    def delete_document(self, document_id: str, *, keep: Sequence[str] = ()) -> int:
        return self.delete_documents([document_id], keep=keep)

    def indexed_documents(self, document_ids: Sequence[str]) -> dict[str, IndexedDocument]:
        if not document_ids:
            return {}
        response = self._search("indexed_documents", bodies.indexed_documents_query(document_ids))
        if response is None:
            return {}
        return {
            bucket["key"]: IndexedDocument(
                content_hash=single_hash([inner["key"] for inner in bucket["hashes"]["buckets"]]),
                chunks=int(bucket["doc_count"]),
            )
            for bucket in response["aggregations"]["documents"]["buckets"]
        }

    def document_hash(self, document_id: str) -> str | None:
        indexed = self.indexed_documents([document_id]).get(document_id)
        return None if indexed is None else indexed.content_hash

    def search(
        self,
        vector: Sequence[float],
        k: int,
        filters: SearchFilters | None = None,
        *,
        exact: bool = False,
    ) -> list[SearchHit]:
        """Filtered k-NN (faiss HNSW, efficient filtering), best first, score = cosine similarity;
        ``exact=True`` scores every matching chunk (``knn_score`` script)."""
        check_k(k)
        info = self._resolve()
        if info is None:
            return []
        query = unit(vector, info.dimension)
        body = bodies.exact_query(query, k, filters) if exact else bodies.knn_query(query, k, filters)
        response = self._search("search", body)
        return [] if response is None else self._hits(response, bodies.cosine_from_score)

    def search_many(
        self,
        vectors: Sequence[Sequence[float]],
        k: int,
        filters: SearchFilters | None = None,
        *,
        exact: bool = False,
    ) -> list[list[SearchHit]]:
        """One filtered k-NN per vector, all in one ``_msearch`` round trip."""
        check_k(k)
        info = self._resolve() if vectors else None
        if info is None:
            return [[] for _ in vectors]
        query = bodies.exact_query if exact else bodies.knn_query
        searches = [query(unit(vector, info.dimension), k, filters) for vector in vectors]
        return self._msearch("search_many", searches, bodies.cosine_from_score)

    def lexical_search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[SearchHit]:
        check_k(k)
        if not query.strip():
            return []
        response = self._search("lexical_search", bodies.lexical_query(query, k, filters))
        return [] if response is None else self._hits(response, float)

    def _msearch(
        self, operation: str, searches: list[dict[str, Any]], score: Callable[[float], float]
    ) -> list[list[SearchHit]]:
        """Several searches of the target in one request; a missing index reads as empty, any other
        failed search fails the call (as the single search does)."""
        from opensearchpy.exceptions import NotFoundError

        body: list[dict[str, Any]] = []
        for search in searches:
            body += [{}, search]
        try:
            reply = self._call(operation, self._client().msearch, index=self._target, body=body)
        except NotFoundError:
            return [[] for _ in searches]
        results = []
        for response in reply["responses"]:
            error = response.get("error")
            if error is None:
                results.append(self._hits(response, score))
                continue
            reason = _error_reason(error) if isinstance(error, dict) else str(error)
            if reason.startswith("index_not_found_exception"):
                results.append([])
                continue
            status = response.get("status")
            if _is_transient_status(status):
                raise TransientIndexError(f"OpenSearch {operation}: {status or 'error'}: {reason}")
            raise VectorIndexError(f"OpenSearch {operation}: HTTP {status}: {reason}")
        return results

    def count(self, filters: SearchFilters | None = None) -> int:
        return self._count(self._target, filters)

    # --- generations (rebuild) --------------------------------------------------------------------
    def create_generation(self, model_name: str, dimension: int) -> OpenSearchIndex:
        name = self._create_index(model_name, dimension, alias=False)
        return OpenSearchIndex(self._settings, client=self._client(), generation=name)

    def generations(self) -> list[str]:
        from opensearchpy.exceptions import NotFoundError

        try:
            found = self._call("get indices", self._client().indices.get_alias, index=f"{self._name}-v*")
        except NotFoundError:
            return []
        return sorted(name for name in found if is_generation_of(self._name, name))

    def _aliased(self) -> list[str]:
        from opensearchpy.exceptions import NotFoundError

        try:
            return sorted(self._call("get alias", self._client().indices.get_alias, name=self._name))
        except NotFoundError:
            return []

    def activate(self, generation: str | GenerationalIndex) -> str | None:
        """Point the alias at ``generation`` (remove + add in one atomic ``_aliases`` call);
        returns the generation it pointed at before."""
        name = generation_name_of(generation)
        if not is_generation_of(self._name, name):
            raise InvalidInputError(f"{name} is not a generation of {self._name}")
        current = self._aliased()
        if current == [name]:
            return name
        from opensearchpy.exceptions import NotFoundError

        try:
            self._call(
                "update aliases",
                self._client().indices.update_aliases,
                body=bodies.alias_actions(self._name, name, [c for c in current if c != name]),
            )
        except NotFoundError as exc:
            raise VectorIndexError(f"no generation {name}") from exc
        self._meta = None
        return current[0] if current else None

    def drop_generation(self, name: str) -> None:
        from opensearchpy.exceptions import NotFoundError

        if not is_generation_of(self._name, name):
            raise InvalidInputError(f"{name} is not a generation of {self._name}")
        if name in self._aliased():
            raise InvalidInputError(f"{name} is the current generation: activate another one first")
        with contextlib.suppress(NotFoundError):
            self._call("delete index", self._client().indices.delete, index=name)
