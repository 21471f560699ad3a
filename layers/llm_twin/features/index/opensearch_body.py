"""Request bodies of the OpenSearch adapter, as pure functions (the request-body tests pin them).

Decisions (docs/vector-index.md):
- ``knn_vector`` with method HNSW, engine faiss, space ``innerproduct``. Both embedders emit unit
  vectors and the adapter normalizes again, so inner product = cosine similarity (the method docs
  list ``l2``/``innerproduct`` for faiss HNSW; ``cosinesimil`` is the nmslib/lucene space).
- Filters go *inside* the knn clause (faiss efficient filtering: the engine picks pre-filtered
  exact search or filtered HNSW, so a selective filter still returns k hits when k exist).
- Scores: faiss innerproduct reports ``1 + ip`` for ip ≥ 0 and ``1 / (1 - ip)`` for ip < 0;
  :func:`cosine_from_score` inverts that so the port's contract (score = cosine similarity) holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from llm_twin.features.index.lance_sql import utc
from llm_twin.features.models import IndexedChunk, SearchFilters

SCHEMA_VERSION = 1
SPACE_TYPE = "innerproduct"
VECTOR_FIELD = "vector"
SOURCE_EXCLUDES = {"excludes": [VECTOR_FIELD]}

_KEYWORD = {"type": "keyword"}
_STORED_ONLY = {"type": "keyword", "index": False, "doc_values": False}
_TEXT_STORED_ONLY = {"type": "text", "index": False}


def index_body(
    *,
    model_name: str,
    dimension: int,
    m: int,
    ef_construction: int,
    ef_search: int,
    replicas: int,
    alias: str | None = None,
) -> dict[str, Any]:
    """Settings + mapping of one generation; ``alias`` attaches the alias atomically at creation."""
    body: dict[str, Any] = {
        "settings": {
            "index": {
                "knn": True,
                "knn.algo_param.ef_search": ef_search,
                "number_of_shards": 1,
                "number_of_replicas": replicas,
            }
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {
                "model_name": model_name,
                "dimension": dimension,
                "space_type": SPACE_TYPE,
                "schema_version": SCHEMA_VERSION,
            },
            "properties": {
                "chunk_id": _KEYWORD,
                "document_id": _KEYWORD,
                "chunk_index": {"type": "integer"},
                "author_id": _KEYWORD,
                "author_name": _KEYWORD,
                "platform": _KEYWORD,
                "category": _KEYWORD,
                "link": _STORED_ONLY,
                "title": _TEXT_STORED_ONLY,
                "section": _TEXT_STORED_ONLY,
                "text": {"type": "text", "analyzer": "english"},
                "embed_text": _TEXT_STORED_ONLY,
                "content_hash": _KEYWORD,
                "published_at": {"type": "date"},
                VECTOR_FIELD: {
                    "type": "knn_vector",
                    "dimension": dimension,
                    "method": {
                        "name": "hnsw",
                        "engine": "faiss",
                        "space_type": SPACE_TYPE,
                        "parameters": {"m": m, "ef_construction": ef_construction, "ef_search": ef_search},
                    },
                },
            },
        },
    }
    if alias is not None:
        body["aliases"] = {alias: {}}
    return body


def document(chunk: IndexedChunk, vector: Sequence[float]) -> dict[str, Any]:
    source = chunk.model_dump(mode="json", exclude={"vector"})
    source["published_at"] = _iso(chunk.published_at)
    source[VECTOR_FIELD] = list(vector)
    return source


def _iso(value: datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def filter_clauses(filters: SearchFilters | None) -> list[dict[str, Any]]:
    """The bool ``filter`` clauses for ``filters`` (same semantics as the LanceDB predicate)."""
    if filters is None:
        return []
    clauses: list[dict[str, Any]] = []
    lists: list[tuple[str, list[str] | None]] = [
        ("author_id", filters.author_ids),
        ("platform", None if filters.platforms is None else [p.value for p in filters.platforms]),
        ("category", None if filters.categories is None else [c.value for c in filters.categories]),
        ("document_id", filters.document_ids),
    ]
    for field, values in lists:
        if values is None:
            continue
        clauses.append({"terms": {field: list(values)}} if values else {"match_none": {}})
    bounds: dict[str, str] = {}
    if filters.published_after is not None:
        bounds["gte"] = _iso(filters.published_after) or ""
    if filters.published_before is not None:
        bounds["lt"] = _iso(filters.published_before) or ""
    if bounds:
        clauses.append({"range": {"published_at": bounds}})
    return clauses


def knn_query(vector: Sequence[float], k: int, filters: SearchFilters | None) -> dict[str, Any]:
    knn: dict[str, Any] = {"vector": list(vector), "k": k}
    clauses = filter_clauses(filters)
    if clauses:
        knn["filter"] = {"bool": {"filter": clauses}}
    return {"size": k, "_source": SOURCE_EXCLUDES, "query": {"knn": {VECTOR_FIELD: knn}}}


def exact_query(vector: Sequence[float], k: int, filters: SearchFilters | None) -> dict[str, Any]:
    """Brute-force scoring of every matching document (the k-NN plugin's ``knn_score`` script)."""
    clauses = filter_clauses(filters)
    return {
        "size": k,
        "_source": SOURCE_EXCLUDES,
        "query": {
            "script_score": {
                "query": {"bool": {"filter": clauses}} if clauses else {"match_all": {}},
                "script": {
                    "source": "knn_score",
                    "lang": "knn",
                    "params": {"field": VECTOR_FIELD, "query_value": list(vector), "space_type": SPACE_TYPE},
                },
            }
        },
    }


def lexical_query(query: str, k: int, filters: SearchFilters | None) -> dict[str, Any]:
    boolean: dict[str, Any] = {"must": [{"match": {"text": {"query": query}}}]}
    clauses = filter_clauses(filters)
    if clauses:
        boolean["filter"] = clauses
    return {"size": k, "_source": SOURCE_EXCLUDES, "query": {"bool": boolean}}


def count_query(filters: SearchFilters | None) -> dict[str, Any] | None:
    clauses = filter_clauses(filters)
    return {"query": {"bool": {"filter": clauses}}} if clauses else None


def documents_query(document_ids: Sequence[str], keep: Sequence[str] = ()) -> dict[str, Any]:
    boolean: dict[str, Any] = {"filter": [{"terms": {"document_id": list(dict.fromkeys(document_ids))}}]}
    if keep:
        boolean["must_not"] = [{"ids": {"values": list(keep)}}]
    return {"query": {"bool": boolean}}


def indexed_documents_query(document_ids: Sequence[str]) -> dict[str, Any]:
    """Per document: its chunk count and the distinct content hashes of its chunks (two are enough
    to see disagreement)."""
    ids = list(dict.fromkeys(document_ids))
    return {
        "size": 0,
        "query": {"bool": {"filter": [{"terms": {"document_id": ids}}]}},
        "aggs": {
            "documents": {
                "terms": {"field": "document_id", "size": len(ids)},
                "aggs": {"hashes": {"terms": {"field": "content_hash", "size": 2}}},
            }
        },
    }


def alias_actions(alias: str, add: str, remove: Sequence[str]) -> dict[str, Any]:
    """One ``_aliases`` call: the alias moves atomically (readers never see zero or two indexes)."""
    actions: list[dict[str, Any]] = [{"remove": {"index": name, "alias": alias}} for name in remove]
    actions.append({"add": {"index": add, "alias": alias}})
    return {"actions": actions}


def cosine_from_score(score: float) -> float:
    """Inverse of faiss innerproduct scoring: score = 1 + ip (ip ≥ 0), 1 / (1 - ip) (ip < 0)."""
    return score - 1.0 if score >= 1.0 else 1.0 - 1.0 / score
