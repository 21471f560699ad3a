"""``GET /collections/{run_id}`` a page at a time: ``limit`` / ``cursor`` in, ``next_cursor`` out, the
status and counts of the whole run on every page (from the run item's counters, not from the links)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from llm_twin.api.pagination import InvalidCursorError, decode_cursor, encode_cursor
from llm_twin.api.services import Services
from llm_twin.collection.events import FinalizeEvent
from llm_twin.domain.models import LinkReport
from llm_twin.warehouse.repository import Warehouse
from llm_twin.warehouse.runs import link_counts, run_counters
from tests.api.conftest import invoke, rest_event

RUN = "/collections/{run_id}"
LINKS = 1_203
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def get_run(run_id: str, **query: str) -> Any:
    return invoke(
        rest_event(
            "GET",
            f"/collections/{run_id}",
            resource=RUN,
            path_parameters={"run_id": run_id},
            query=query or None,
        )
    )


def b64(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.fixture
def big_run(services: Services) -> str:
    """1,203 links: 0-2 ok (2 new documents each), 1200 failed, the rest pending."""
    warehouse: Warehouse = services.warehouse()
    warehouse.create_run("big", [(i, "maya", f"https://a.example/{i}") for i in range(LINKS)])
    for i in range(3):
        ok = LinkReport(link=f"https://a.example/{i}", status="ok", new=2)
        warehouse.put_link_status("big", i, ok, "maya")
    warehouse.put_link_status(
        "big", 1_200, LinkReport(link="https://a.example/1200", status="failed", reason="404"), "maya"
    )
    return "big"


WHOLE_RUN_COUNTS = {
    "pending": LINKS - 4,
    "ok": 3,
    "failed": 1,
    "documents_new": 6,
    "documents_updated": 0,
    "documents_unchanged": 0,
}


def test_paging_returns_every_link_once_in_order(big_run: str) -> None:
    seen: list[int] = []
    cursors: list[str | None] = []
    query: dict[str, str] = {"limit": "500"}
    while True:
        reply = get_run(big_run, **query)
        assert reply.status == 200, reply.body
        page = reply.body
        assert (page["run_id"], page["status"], page["counts"]) == (big_run, "running", WHOLE_RUN_COUNTS)
        assert len(page["links"]) <= 500
        seen.extend(link["index"] for link in page["links"])
        cursors.append(page["next_cursor"])
        if page["next_cursor"] is None:
            break
        query = {"limit": "500", "cursor": page["next_cursor"]}
    assert seen == list(range(LINKS))
    assert [len(seen[:500]), len(seen[500:1000]), len(seen[1000:])] == [500, 500, 203]
    assert cursors[-1] is None and len(cursors) == 3
    assert [decode_cursor(big_run, c) for c in cursors[:-1] if c] == [499, 999]
    last = get_run(big_run, limit="3", cursor=encode_cursor(big_run, 1_199)).body
    assert [(link["index"], link["status"]) for link in last["links"]] == [
        (1_200, "failed"),
        (1_201, "pending"),
        (1_202, "pending"),
    ]
    assert last["next_cursor"] is None  # the page ends exactly at the last link: nothing follows


def test_default_page_and_small_runs_in_one_page(services: Services, big_run: str) -> None:
    first = get_run(big_run).body
    assert len(first["links"]) == 500 and decode_cursor(big_run, first["next_cursor"]) == 499
    services.warehouse().create_run("small", [(i, "maya", f"https://s.example/{i}") for i in range(3)])
    small = get_run("small").body
    assert [link["index"] for link in small["links"]] == [0, 1, 2]
    assert small["next_cursor"] is None and small["counts"] == {
        "pending": 3,
        "documents_new": 0,
        "documents_updated": 0,
        "documents_unchanged": 0,
    }


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"limit": "0"}, "limit: Input should be greater than or equal to 1"),
        ({"limit": "1001"}, "limit: Input should be less than or equal to 1000"),
        ({"limit": "ten"}, "limit: Input should be a valid integer"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "not/base64!"}, "cursor"),
        ({"cursor": "x" * 201}, "cursor"),
        ({"cursor": "abc"}, "invalid cursor"),
        ({"cursor": b64(["v", 1])}, "invalid cursor"),
        ({"cursor": b64({"v": 2, "run": "big", "after": 1})}, "invalid cursor"),
        ({"cursor": b64({"v": 1, "run": "big", "after": "1"})}, "invalid cursor"),
        ({"cursor": b64({"v": 1, "run": "big", "after": True})}, "invalid cursor"),
        ({"cursor": b64({"v": 1, "run": "big", "after": 100_000})}, "invalid cursor"),
        ({"cursor": b64({"v": 1, "run": "big", "after": -1})}, "invalid cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("=")}, "invalid cursor"),
        ({"cursor": encode_cursor("other-run", 499)}, "belongs to another run"),
        ({"limit": "10", "cursor": encode_cursor("other-run", 9)}, "belongs to another run"),
    ],
)
def test_bad_limit_or_cursor_is_a_400_with_a_message(
    services: Services, query: dict[str, str], fragment: str
) -> None:
    services.warehouse().create_run("big", [(i, "maya", f"https://a.example/{i}") for i in range(3)])
    reply = get_run("big", **query)
    assert reply.status == 400, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert fragment in reply.body["message"], reply.body


def test_unknown_run_is_still_404(services: Services) -> None:
    for query in ({}, {"limit": "10"}, {"cursor": encode_cursor("nope", 3)}):
        reply = get_run("nope", **query)
        assert reply.status == 404 and "unknown collection run nope" in reply.body["message"]
    assert get_run("a.b", limit="10").status == 422  # a malformed run id stays a 422 (path)


def test_counts_come_from_the_run_item_not_from_the_links(
    services: Services, big_run: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page reads the run item and its own links: whole-run counts without reading every link. A run
    written before the counters existed (counts replaced by partial ones here) is recounted instead."""
    pages: list[tuple[int, int | None]] = []
    full_reads: list[str] = []
    page_of, whole = Warehouse.get_run_page, Warehouse.get_run

    def spy_page(self: Warehouse, run_id: str, limit: int, after: int | None = None) -> Any:
        pages.append((limit, after))
        return page_of(self, run_id, limit, after)

    def spy_whole(self: Warehouse, run_id: str) -> Any:
        full_reads.append(run_id)
        return whole(self, run_id)

    monkeypatch.setattr(Warehouse, "get_run_page", spy_page)
    monkeypatch.setattr(Warehouse, "get_run", spy_whole)
    page = get_run(big_run, limit="2", cursor=encode_cursor(big_run, 0)).body
    assert [link["index"] for link in page["links"]] == [1, 2] and page["counts"] == WHOLE_RUN_COUNTS
    assert pages == [(2, 0)] and full_reads == []  # no read of every link

    services.warehouse().finish_run(big_run, "partial", {"ok": 3})  # counters no longer cover the links
    page = get_run(big_run, limit="2").body
    assert page["counts"] == WHOLE_RUN_COUNTS and full_reads == [big_run]  # recounted from the links


def test_cursor_round_trip() -> None:
    cursor = encode_cursor("20261129T134859Z-1a2b3c", 99_999)
    assert decode_cursor("20261129T134859Z-1a2b3c", cursor) == 99_999
    assert "=" not in cursor and len(encode_cursor("r" * 80, 99_999)) <= 200
    with pytest.raises(InvalidCursorError, match="another run"):
        decode_cursor("20261129T134859Z-ffffff", cursor)


def test_finalize_stores_recounted_counters(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """A counter update lost between the link write and the run update (a crash between the two) leaves
    pending too high, so the page says running, never finished early; Finalize recounts from the links
    and stores exact counters."""
    warehouse = services.warehouse()
    warehouse.create_run("r", [(i, "maya", f"https://a.example/{i}") for i in range(3)])
    monkeypatch.setattr(Warehouse, "_count", lambda self, run_id, deltas: None)  # the lost update
    warehouse.put_link_status("r", 0, LinkReport(link="https://a.example/0", status="ok", new=1), "maya")
    monkeypatch.undo()
    warehouse.put_link_status("r", 1, LinkReport(link="https://a.example/1", status="unchanged"), "maya")
    drifted = get_run("r").body
    assert drifted["status"] == "running" and drifted["counts"]["pending"] == 2  # really 1

    services.collections().finalize(FinalizeEvent(run_id="r"))
    final = get_run("r").body
    assert final["status"] == "partial" and [link["status"] for link in final["links"]] == [
        "ok",
        "unchanged",
        "failed",
    ]
    assert final["counts"] == {
        "ok": 1,
        "unchanged": 1,
        "failed": 1,
        "documents_new": 1,
        "documents_updated": 0,
        "documents_unchanged": 0,
    }
    stored = warehouse.get_run("r")
    assert stored is not None and run_counters(stored[0]) == link_counts(stored[1])
