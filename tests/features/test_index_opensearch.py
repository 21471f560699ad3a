"""OpenSearchIndex: the real opensearch-py client against a loopback server that records every request
and answers with canned OpenSearch responses; then the shared contract against a real engine when
``LLM_TWIN_TEST_OPENSEARCH_URL`` is set (none can be installed here)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from llm_twin.domain.models import Category, Platform
from llm_twin.errors import IndexMismatchError, TransientIndexError
from llm_twin.features.index import OpenSearchIndex, VectorIndexError, make_index
from llm_twin.features.index.opensearch_body import cosine_from_score
from llm_twin.features.models import Chunk, SearchFilters
from llm_twin.settings import Settings
from tests.features.index_contract import DIM, HOSTILE_AUTHOR, MODEL, IndexContract, corpus
from tests.features.loopback import LoopbackServer, Recorded, Reply

NAME = "chunks"
GEN = "chunks-v20240101000000000000"
NEW_GEN_PREFIX = "chunks-v"


# --- canned responses ------------------------------------------------------------------------------
def not_found(index: str = NAME) -> Reply:
    error = {"type": "index_not_found_exception", "reason": f"no such index [{index}]", "index": index}
    return Reply(404, {"error": {"root_cause": [error], **error}, "status": 404})


def mapping(name: str = GEN, model: str = MODEL, dimension: int = DIM) -> Reply:
    meta = {"model_name": model, "dimension": dimension, "space_type": "innerproduct", "schema_version": 1}
    return Reply(200, {name: {"mappings": {"dynamic": "strict", "_meta": meta, "properties": {}}}})


def ack() -> Reply:
    return Reply(200, {"acknowledged": True})


def hit(chunk_index: int, score: float) -> dict[str, Any]:
    chunk = corpus()[chunk_index]
    source = chunk.model_dump(mode="json", exclude={"vector"})
    return {"_index": GEN, "_id": chunk.chunk_id, "_score": score, "_source": source}


def search_reply(*hits: dict[str, Any]) -> Reply:
    return Reply(
        200,
        {
            "took": 2,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": None, "hits": list(hits)},
        },
    )


def bulk_reply(statuses: dict[str, int]) -> Reply:
    items = []
    for chunk_id, status in statuses.items():
        item: dict[str, Any] = {"_index": GEN, "_id": chunk_id, "status": status}
        if status == 429:
            item["error"] = {"type": "es_rejected_execution_exception", "reason": "queue full"}
        elif status >= 400:
            item["error"] = {"type": "mapper_parsing_exception", "reason": "failed to parse field [vector]"}
        else:
            item["result"] = "created"
        items.append({"index": item})
    return Reply(200, {"took": 3, "errors": any(s >= 300 for s in statuses.values()), "items": items})


# --- fixtures --------------------------------------------------------------------------------------
@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loopback:
        yield loopback


def settings_for(server: LoopbackServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "vector_index": "opensearch",
        "opensearch_endpoint": server.url,
        "opensearch_auth": "none",
        "opensearch_backoff_s": 0.0,
        "opensearch_max_retries": 2,
        "index_name": NAME,
        "hnsw_m": 16,
        "hnsw_ef_construction": 256,
        "hnsw_ef_search": 256,
        "opensearch_replicas": 1,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def index(server: LoopbackServer) -> OpenSearchIndex:
    created = make_index(settings_for(server))
    assert isinstance(created, OpenSearchIndex)
    return created


def calls(server: LoopbackServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.requests]


EXPECTED_MAPPING = {
    "settings": {
        "index": {
            "knn": True,
            "knn.algo_param.ef_search": 256,
            "number_of_shards": 1,
            "number_of_replicas": 1,
        }
    },
    "mappings": {
        "dynamic": "strict",
        "_meta": {"model_name": MODEL, "dimension": DIM, "space_type": "innerproduct", "schema_version": 1},
        "properties": {
            "chunk_id": {"type": "keyword"},
            "document_id": {"type": "keyword"},
            "chunk_index": {"type": "integer"},
            "author_id": {"type": "keyword"},
            "author_name": {"type": "keyword"},
            "platform": {"type": "keyword"},
            "category": {"type": "keyword"},
            "link": {"type": "keyword", "index": False, "doc_values": False},
            "title": {"type": "text", "index": False},
            "section": {"type": "text", "index": False},
            "text": {"type": "text", "analyzer": "english"},
            "embed_text": {"type": "text", "index": False},
            "content_hash": {"type": "keyword"},
            "published_at": {"type": "date"},
            "vector": {
                "type": "knn_vector",
                "dimension": DIM,
                "method": {
                    "name": "hnsw",
                    "engine": "faiss",
                    "space_type": "innerproduct",
                    "parameters": {"m": 16, "ef_construction": 256, "ef_search": 256},
                },
            },
        },
    },
}


# --- index lifecycle -------------------------------------------------------------------------------
def test_nothing_happens_before_the_first_call(server: LoopbackServer) -> None:
    OpenSearchIndex(settings_for(server))
    assert server.requests == []


def test_ensure_creates_a_versioned_index_behind_the_alias(
    server: LoopbackServer, index: OpenSearchIndex
) -> None:
    created: list[str] = []

    def respond(request: Recorded) -> Reply:
        if request.method == "PUT":
            created.append(request.path.strip("/"))
            return Reply(200, {"acknowledged": True, "shards_acknowledged": True, "index": created[0]})
        if request.path == f"/_alias/{NAME}":
            return Reply(200, {created[0]: {"aliases": {NAME: {}}}})
        if request.path == f"/{NAME}/_mapping":
            return mapping(created[0]) if created else not_found()
        if request.path.endswith("/_count"):
            return Reply(200, {"count": 0})
        return Reply(418, {})

    server._responder = respond
    info = index.ensure(MODEL, DIM)
    generation = created[0]
    assert generation.startswith(NEW_GEN_PREFIX) and len(generation) == len(NEW_GEN_PREFIX) + 20
    assert calls(server) == [
        ("GET", f"/{NAME}/_mapping"),
        ("PUT", f"/{generation}"),
        ("GET", f"/_alias/{NAME}"),
        ("GET", f"/{NAME}/_mapping"),
        ("POST", f"/{generation}/_count"),
    ]
    assert server.requests[1].json() == {**EXPECTED_MAPPING, "aliases": {NAME: {}}}
    assert (info.name, info.model_name, info.dimension, info.chunks) == (generation, MODEL, DIM, 0)


def test_ensure_refuses_another_model(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(mapping(model="sentence-transformers/all-MiniLM-L6-v2", dimension=384))
    with pytest.raises(IndexMismatchError, match="all-MiniLM-L6-v2"):
        index.ensure("amazon.titan-embed-text-v2:0", 1024)
    assert calls(server) == [("GET", f"/{NAME}/_mapping")]


def test_ensure_race_loser_deletes_its_own_index(server: LoopbackServer, index: OpenSearchIndex) -> None:
    earlier = "chunks-v20000101000000000000"

    def respond(request: Recorded) -> Reply:
        if request.method == "PUT":
            return ack()
        if request.path == f"/_alias/{NAME}":
            mine = server.requests[1].path.strip("/")
            return Reply(200, {earlier: {"aliases": {NAME: {}}}, mine: {"aliases": {NAME: {}}}})
        if request.path == "/_aliases":
            return ack()
        if request.path == f"/{NAME}/_mapping":
            return not_found() if len(server.requests) == 1 else mapping(earlier)
        if request.path.endswith("/_count"):
            return Reply(200, {"count": 7})
        return Reply(418, {})

    server._responder = respond
    info = index.ensure(MODEL, DIM)
    mine = server.requests[1].path.strip("/")
    swap = next(r for r in server.requests if r.path == "/_aliases")
    assert swap.json() == {"actions": [{"remove_index": {"index": mine}}]}
    assert (info.name, info.chunks) == (earlier, 7)


def test_foreign_index_under_the_alias_name_is_refused(
    server: LoopbackServer, index: OpenSearchIndex
) -> None:
    server.script(Reply(200, {NAME: {"mappings": {"properties": {"vector": {"type": "float"}}}}}))
    with pytest.raises(VectorIndexError, match="not created by llm-twin"):
        index.ensure(MODEL, DIM)


# --- writes ----------------------------------------------------------------------------------------
def test_bulk_upsert_ndjson(server: LoopbackServer, index: OpenSearchIndex) -> None:
    chunks = corpus()[:3]
    chunks[1] = chunks[1].model_copy(update={"vector": [2.0] + [0.0] * (DIM - 1)})
    server.script(mapping(), bulk_reply({c.chunk_id: 201 for c in chunks}))
    index.upsert([*chunks, chunks[0]])  # a repeated id is sent once
    assert calls(server) == [("GET", f"/{NAME}/_mapping"), ("POST", f"/{NAME}/_bulk")]
    request = server.requests[1]
    assert request.query == {"refresh": ["wait_for"], "require_alias": ["true"]}
    lines = request.ndjson()
    assert lines[0::2] == [{"index": {"_id": c.chunk_id}} for c in chunks]
    source = lines[3]
    assert source == {
        "chunk_id": "doc-0#0001",
        "document_id": "doc-0",
        "chunk_index": 1,
        "author_id": "alice",
        "author_name": "Name of alice",
        "platform": "medium",
        "category": "article",
        "link": "https://example.com/doc-0",
        "title": "Title of doc-0",
        "section": "Section 1",
        "text": "chunk 1 of doc-0 about writing software",
        "embed_text": "Title of doc-0\n\nchunk 1 of doc-0 about writing software",
        "content_hash": "hash-1",
        "published_at": "2024-01-02T01:00:00+00:00",
        "vector": [1.0] + [0.0] * (DIM - 1),  # normalized
    }


def test_bulk_retries_only_rejected_items(server: LoopbackServer, index: OpenSearchIndex) -> None:
    chunks = corpus()[:3]
    ids = [c.chunk_id for c in chunks]
    server.script(
        mapping(),
        bulk_reply({ids[0]: 201, ids[1]: 429, ids[2]: 201}),
        bulk_reply({ids[1]: 200}),
    )
    index.upsert(chunks)
    assert [line["index"]["_id"] for line in server.requests[2].ndjson()[0::2]] == [ids[1]]


def test_bulk_mapping_error_is_permanent(server: LoopbackServer, index: OpenSearchIndex) -> None:
    chunks = corpus()[:2]
    server.script(mapping(), bulk_reply({chunks[0].chunk_id: 201, chunks[1].chunk_id: 400}))
    with pytest.raises(VectorIndexError, match="mapper_parsing_exception"):
        index.upsert(chunks)
    assert len(server.requests) == 2


def test_upsert_before_ensure(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(not_found())
    with pytest.raises(VectorIndexError, match="ensure"):
        index.upsert(corpus()[:1])


def test_delete_by_query(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(Reply(200, {"took": 5, "deleted": 2, "failures": []}), not_found())
    assert index.delete_document("doc-3", keep=["doc-3#0000"]) == 2
    request = server.requests[0]
    assert (request.method, request.path) == ("POST", f"/{NAME}/_delete_by_query")
    assert request.query == {"refresh": ["true"], "conflicts": ["proceed"]}
    assert request.json() == {
        "query": {
            "bool": {
                "filter": [{"terms": {"document_id": ["doc-3"]}}],
                "must_not": [{"ids": {"values": ["doc-3#0000"]}}],
            }
        }
    }
    assert index.delete_document("doc-3") == 0  # no index yet
    assert server.requests[1].json() == {
        "query": {"bool": {"filter": [{"terms": {"document_id": ["doc-3"]}}]}}
    }


def test_delete_documents_is_one_request(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(Reply(200, {"took": 5, "deleted": 7, "failures": []}))
    assert index.delete_documents(["doc-1", "doc-2", "doc-1"], keep=["doc-2#0000"]) == 7
    assert index.delete_documents([]) == 0  # no request at all
    (request,) = server.requests
    assert request.json() == {
        "query": {
            "bool": {
                "filter": [{"terms": {"document_id": ["doc-1", "doc-2"]}}],
                "must_not": [{"ids": {"values": ["doc-2#0000"]}}],
            }
        }
    }


def _documents_aggs(documents: dict[str, tuple[int, list[str]]]) -> Reply:
    buckets = [
        {"key": doc, "doc_count": count, "hashes": {"buckets": [{"key": h, "doc_count": 1} for h in hashes]}}
        for doc, (count, hashes) in documents.items()
    ]
    return Reply(200, {"hits": {"hits": []}, "aggregations": {"documents": {"buckets": buckets}}})


def test_document_hash(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(
        _documents_aggs({"doc-1": (3, ["hash-1"])}),
        _documents_aggs({"doc-1": (3, ["hash-1", "hash-2"])}),
        _documents_aggs({}),
        not_found(),
    )
    assert index.document_hash("doc-1") == "hash-1"
    assert index.document_hash("doc-1") is None
    assert index.document_hash("doc-1") is None
    assert index.document_hash("doc-1") is None
    assert server.requests[0].path == f"/{NAME}/_search"
    assert server.requests[0].json() == {
        "size": 0,
        "query": {"bool": {"filter": [{"terms": {"document_id": ["doc-1"]}}]}},
        "aggs": {
            "documents": {
                "terms": {"field": "document_id", "size": 1},
                "aggs": {"hashes": {"terms": {"field": "content_hash", "size": 2}}},
            }
        },
    }


def test_indexed_documents_is_one_aggregation(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(_documents_aggs({"doc-1": (3, ["hash-1"]), "doc-2": (2, ["hash-1", "hash-2"])}))
    found = index.indexed_documents(["doc-1", "doc-2", "doc-9"])
    assert {doc: (d.content_hash, d.chunks) for doc, d in found.items()} == {
        "doc-1": ("hash-1", 3),
        "doc-2": (None, 2),
    }
    assert index.indexed_documents([]) == {}
    (request,) = server.requests
    body = request.json()
    assert body["query"] == {"bool": {"filter": [{"terms": {"document_id": ["doc-1", "doc-2", "doc-9"]}}]}}
    assert body["aggs"]["documents"]["terms"] == {"field": "document_id", "size": 3}


# --- queries ---------------------------------------------------------------------------------------
FILTERS = SearchFilters(
    author_ids=[HOSTILE_AUTHOR],
    platforms=[Platform.GITHUB, Platform.BLOG],
    categories=[Category.REPOSITORY],
    document_ids=["doc-1"],
    published_after=datetime(2024, 1, 1),
    published_before=datetime(2024, 6, 1, 2, tzinfo=UTC),
)
FILTER_CLAUSES = [
    {"terms": {"author_id": [HOSTILE_AUTHOR]}},
    {"terms": {"platform": ["github", "blog"]}},
    {"terms": {"category": ["repository"]}},
    {"terms": {"document_id": ["doc-1"]}},
    {"range": {"published_at": {"gte": "2024-01-01T00:00:00+00:00", "lt": "2024-06-01T02:00:00+00:00"}}},
]


def test_knn_query_with_efficient_filters_and_cosine_scores(
    server: LoopbackServer, index: OpenSearchIndex
) -> None:
    server.script(mapping(), search_reply(hit(4, 0.8), hit(2, 1.8)))
    hits = index.search([3.0] + [0.0] * (DIM - 1), 5, FILTERS)
    assert calls(server) == [("GET", f"/{NAME}/_mapping"), ("POST", f"/{NAME}/_search")]
    assert server.requests[1].json() == {
        "size": 5,
        "_source": {"excludes": ["vector"]},
        "query": {
            "knn": {
                "vector": {
                    "vector": [1.0] + [0.0] * (DIM - 1),
                    "k": 5,
                    "filter": {"bool": {"filter": FILTER_CLAUSES}},
                }
            }
        },
    }
    assert [(h.chunk.chunk_id, h.score) for h in hits] == [
        (corpus()[2].chunk_id, pytest.approx(0.8)),
        (corpus()[4].chunk_id, pytest.approx(-0.25)),
    ]
    assert hits[0].chunk == Chunk.model_validate(corpus()[2].model_dump(exclude={"vector"}))
    server.script(search_reply())
    index.search([1.0] * DIM, 3)  # no filters: no filter clause; the mapping is cached
    assert calls(server)[-1] == ("POST", f"/{NAME}/_search")
    assert "filter" not in server.requests[-1].json()["query"]["knn"]["vector"]


def test_empty_list_filter_is_match_none(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(Reply(200, {"count": 0}))
    assert index.count(SearchFilters(author_ids=[], categories=[Category.POST])) == 0
    assert server.requests[0].path == f"/{NAME}/_count"
    assert server.requests[0].json() == {
        "query": {"bool": {"filter": [{"match_none": {}}, {"terms": {"category": ["post"]}}]}}
    }


def test_exact_search_uses_the_knn_score_script(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(mapping(), search_reply(hit(0, 1.5)))
    hits = index.search([1.0] + [0.0] * (DIM - 1), 4, SearchFilters(author_ids=["bob"]), exact=True)
    assert hits[0].score == pytest.approx(0.5)
    assert server.requests[1].json() == {
        "size": 4,
        "_source": {"excludes": ["vector"]},
        "query": {
            "script_score": {
                "query": {"bool": {"filter": [{"terms": {"author_id": ["bob"]}}]}},
                "script": {
                    "source": "knn_score",
                    "lang": "knn",
                    "params": {
                        "field": "vector",
                        "query_value": [1.0] + [0.0] * (DIM - 1),
                        "space_type": "innerproduct",
                    },
                },
            }
        },
    }


def test_lexical_query(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(search_reply(hit(13, 7.25), hit(1, 0.5)))
    hits = index.lexical_search('zeppelin "harbour" OR (', 10, SearchFilters(platforms=[Platform.BLOG]))
    assert [(h.chunk.chunk_id, h.score) for h in hits] == [
        (corpus()[13].chunk_id, 7.25),
        (corpus()[1].chunk_id, 0.5),
    ]
    assert calls(server) == [("POST", f"/{NAME}/_search")]
    assert server.requests[0].json() == {
        "size": 10,
        "_source": {"excludes": ["vector"]},
        "query": {
            "bool": {
                "must": [{"match": {"text": {"query": 'zeppelin "harbour" OR ('}}}],
                "filter": [{"terms": {"platform": ["blog"]}}],
            }
        },
    }


def msearch_reply(*responses: dict[str, Any]) -> Reply:
    return Reply(200, {"took": 3, "responses": list(responses)})


def searched(reply: Reply) -> dict[str, Any]:
    return {**reply.body, "status": 200}


def test_search_many_is_one_msearch(server: LoopbackServer, index: OpenSearchIndex) -> None:
    """A question and its rewrites: one ``_msearch`` round trip, one k-NN body per vector."""
    server.script(
        mapping(),
        msearch_reply(searched(search_reply(hit(4, 0.8))), searched(search_reply(hit(2, 1.8), hit(3, 1.2)))),
    )
    first, second = [3.0] + [0.0] * (DIM - 1), [0.0, 2.0] + [0.0] * (DIM - 2)
    results = index.search_many([first, second], 5, FILTERS)
    assert calls(server) == [("GET", f"/{NAME}/_mapping"), ("POST", f"/{NAME}/_msearch")]
    header, body, header2, body2 = server.requests[1].ndjson()
    assert header == header2 == {}
    assert body["query"]["knn"]["vector"]["vector"] == [1.0] + [0.0] * (DIM - 1)
    assert body2["query"]["knn"]["vector"]["vector"] == [0.0, 1.0] + [0.0] * (DIM - 2)
    assert body["query"]["knn"]["vector"]["filter"] == {"bool": {"filter": FILTER_CLAUSES}}
    assert body["_source"] == {"excludes": ["vector"]} and body["size"] == 5
    assert [[(h.chunk.chunk_id, h.score) for h in hits] for hits in results] == [
        [(corpus()[4].chunk_id, pytest.approx(-0.25))],
        [(corpus()[2].chunk_id, pytest.approx(0.8)), (corpus()[3].chunk_id, pytest.approx(0.2))],
    ]


def test_msearch_item_errors(server: LoopbackServer, index: OpenSearchIndex) -> None:
    """Each search of an ``_msearch`` fails on its own: a missing index reads as empty, a rejected
    search is transient, a bad request is a clear permanent error."""
    vectors = [[1.0] * DIM, [0.5] * DIM]
    missing = {"error": not_found().body["error"], "status": 404}
    server.script(mapping(), msearch_reply(missing, searched(search_reply(hit(1, 0.5)))))
    assert [len(hits) for hits in index.search_many(vectors, 3)] == [0, 1]
    rejected = {"error": {"type": "es_rejected_execution_exception", "reason": "queue full"}, "status": 429}
    server.script(msearch_reply(rejected))
    with pytest.raises(TransientIndexError, match="queue full"):
        index.search_many(vectors[:1], 3)
    bad = {"error": {"root_cause": [{"type": "parsing_exception", "reason": "bad query"}]}, "status": 400}
    server.script(msearch_reply(bad))
    with pytest.raises(VectorIndexError, match="HTTP 400: parsing_exception: bad query"):
        index.search_many(vectors[:1], 3)


def test_missing_index_reads_as_empty(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(not_found(), not_found(), not_found(), not_found())
    assert index.search([1.0] * DIM, 3) == []
    assert index.lexical_search("x", 3) == []
    assert index.count() == 0
    assert index.info() is None


# --- generations -----------------------------------------------------------------------------------
def test_generations_alias_swap_and_drop(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(Reply(200, {"acknowledged": True}))
    writer = index.create_generation("amazon.titan-embed-text-v2:0", 1024)
    new = writer.generation
    assert new is not None and new.startswith(NEW_GEN_PREFIX)
    create = server.requests[0]
    assert (create.method, create.path) == ("PUT", f"/{new}")
    assert "aliases" not in create.json()
    assert create.json()["mappings"]["properties"]["vector"]["dimension"] == 1024

    server.reset()
    server.script(Reply(200, {GEN: {"aliases": {NAME: {}}}}), ack())
    assert index.activate(writer) == GEN
    assert calls(server) == [("GET", f"/_alias/{NAME}"), ("POST", "/_aliases")]
    assert server.requests[1].json() == {
        "actions": [{"remove": {"index": GEN, "alias": NAME}}, {"add": {"index": new, "alias": NAME}}]
    }

    server.reset()
    server.script(Reply(200, {new: {"aliases": {NAME: {}}}}), ack())
    index.drop_generation(GEN)
    assert calls(server) == [("GET", f"/_alias/{NAME}"), ("DELETE", f"/{GEN}")]

    server.reset()
    server.script(
        Reply(200, {new: {"aliases": {NAME: {}}}, GEN: {"aliases": {}}, "chunks-old": {"aliases": {}}})
    )
    assert index.generations() == sorted([GEN, new])
    assert calls(server) == [("GET", f"/{NAME}-v*/_alias")]

    server.reset()
    server.script(Reply(200, {new: {"aliases": {NAME: {}}}}))
    with pytest.raises(Exception, match="current generation"):
        index.drop_generation(new)
    assert [r.method for r in server.requests] == ["GET"]  # never deleted


def test_first_activation_only_adds(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(not_found(NAME), ack())
    assert index.activate(GEN) is None
    assert server.requests[1].json() == {"actions": [{"add": {"index": GEN, "alias": NAME}}]}


# --- errors ----------------------------------------------------------------------------------------
def test_5xx_and_429_are_retried_then_transient(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(
        Reply(503, {"error": "unavailable"}), Reply(429, {"error": "too many"}), Reply(200, {"count": 4})
    )
    assert index.count() == 4
    assert len(server.requests) == 3
    server.reset()
    server.script(*[Reply(429, {"error": "too many requests"})] * 3)
    with pytest.raises(TransientIndexError, match="429 after 3 attempts"):
        index.count()
    assert len(server.requests) == 3


def test_connection_refused_is_transient() -> None:
    with LoopbackServer() as gone:
        settings = settings_for(gone, opensearch_max_retries=1)
    with pytest.raises(TransientIndexError, match="connection error"):
        OpenSearchIndex(settings).count()


def test_4xx_is_a_clear_permanent_error(server: LoopbackServer, index: OpenSearchIndex) -> None:
    error = {"type": "parsing_exception", "reason": "[knn] unknown token [START_ARRAY]"}
    server.script(Reply(400, {"error": {"root_cause": [error], **error}, "status": 400}))
    with pytest.raises(VectorIndexError, match=r"HTTP 400: parsing_exception: \[knn\] unknown token"):
        index.lexical_search("x", 3)
    assert len(server.requests) == 1
    server.script(Reply(403, {"message": "no permissions for [indices:data/read/search]"}))
    with pytest.raises(VectorIndexError, match="HTTP 403"):
        index.lexical_search("x", 3)


def test_sigv4_signed_requests(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSIGV4TEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    index = OpenSearchIndex(settings_for(server, opensearch_auth="sigv4", region="eu-west-1"))
    server.script(Reply(200, {"count": 1}))
    assert index.count(SearchFilters(author_ids=["a"])) == 1
    headers = server.requests[0].headers
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDSIGV4TEST/")
    assert "/eu-west-1/es/aws4_request" in headers["authorization"]
    assert "SignedHeaders=" in headers["authorization"] and "Signature=" in headers["authorization"]
    assert headers["x-amz-security-token"] == "session-token"
    assert "x-amz-date" in headers
    assert headers["x-amz-content-sha256"] == hashlib.sha256(server.requests[0].body).hexdigest()
    assert "x-amz-content-sha256" in headers["authorization"].split("SignedHeaders=")[1].split(",")[0]


def test_unsigned_when_auth_is_none(server: LoopbackServer, index: OpenSearchIndex) -> None:
    server.script(Reply(200, {"count": 1}))
    index.count()
    assert "authorization" not in server.requests[0].headers


def test_endpoint_is_required() -> None:
    index = OpenSearchIndex(Settings(vector_index="opensearch", opensearch_endpoint=None))
    with pytest.raises(VectorIndexError, match="LLM_TWIN_OPENSEARCH_ENDPOINT"):
        index.count()


@pytest.mark.parametrize("cosine", [1.0, 0.73, 0.0, -0.2, -1.0])
def test_score_formula_inverts_faiss_innerproduct(cosine: float) -> None:
    score = 1 + cosine if cosine >= 0 else 1 / (1 - cosine)  # what faiss reports for ip = cosine
    assert cosine_from_score(score) == pytest.approx(cosine)


# --- the contract against a real engine --------------------------------------------------------------
OPENSEARCH_URL = os.environ.get("LLM_TWIN_TEST_OPENSEARCH_URL")


@pytest.mark.skipif(
    not OPENSEARCH_URL,
    reason="set LLM_TWIN_TEST_OPENSEARCH_URL (e.g. http://127.0.0.1:9200, security off) to run the "
    "VectorIndex contract against a real OpenSearch; none can be installed in this sandbox",
)
class TestOpenSearchContract(IndexContract):
    @pytest.fixture
    def index_settings(self) -> Iterator[Settings]:
        settings = Settings(
            vector_index="opensearch",
            opensearch_endpoint=OPENSEARCH_URL,
            opensearch_auth=os.environ.get("LLM_TWIN_TEST_OPENSEARCH_AUTH", "none"),
            index_name=f"llm-twin-test-{uuid.uuid4().hex[:10]}",
        )
        yield settings
        from llm_twin.features.index.opensearch import build_client

        build_client(settings).indices.delete(
            index=f"{settings.index_name}-v*", params={"ignore_unavailable": "true"}
        )

    @pytest.fixture
    def open_index(self) -> Any:
        return lambda settings: OpenSearchIndex(settings)
