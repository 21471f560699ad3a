from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from llm_twin.domain.models import LinkReport
from llm_twin.errors import InvalidInputError, TransientStoreError
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.repository import Warehouse, new_run_id
from llm_twin.warehouse.runs import LINK_WRITE_ATTEMPTS, link_counts, run_counters, zero_counts

T0 = datetime(2026, 11, 29, 13, 48, 59, tzinfo=UTC)
TARGETS = [
    (10, "maya", "https://a.example/10"),
    (2, "adam", "https://a.example/2"),
    (0, "maya", "https://a.example/0"),
]


def test_new_run_id_sorts_by_time_and_is_an_execution_name() -> None:
    run_id = new_run_id(T0)
    assert re.fullmatch(r"20261129T134859Z-[0-9a-f]{6}", run_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", new_run_id())
    later = [new_run_id(T0 + timedelta(seconds=s)) for s in (1, 60, 3600, 86400 * 40)]
    assert sorted([*later, run_id]) == [run_id, *later]
    assert new_run_id(T0) != new_run_id(T0)


def test_create_run_records_running_and_pending_links_sorted_by_index(warehouse: Warehouse) -> None:
    run = warehouse.create_run("r1", TARGETS, now=T0)
    assert (run.status, run.requested, run.authors, run.started_at, run.finished_at) == (
        "running",
        3,
        ["maya", "adam"],
        T0,
        None,
    )
    stored = warehouse.get_run("r1")
    assert stored is not None
    got, links = stored
    assert got == run
    assert [(s.index, s.author_id, s.link, s.status) for s in links] == [
        (0, "maya", "https://a.example/0", "pending"),
        (2, "adam", "https://a.example/2", "pending"),
        (10, "maya", "https://a.example/10", "pending"),
    ]


def test_create_run_is_idempotent(warehouse: Warehouse) -> None:
    first = warehouse.create_run("r1", TARGETS, now=T0)
    warehouse.put_link_status("r1", 2, LinkReport(link="https://a.example/2", status="ok", new=1), "adam")
    again = warehouse.create_run("r1", TARGETS, now=T0 + timedelta(minutes=5))
    assert again.model_copy(update={"counts": first.counts}) == first  # the link write moved counts
    assert (again.counts["pending"], again.counts["ok"], again.counts["documents_new"]) == (2, 1, 1)
    stored = warehouse.get_run("r1")
    assert stored is not None
    assert [s.status for s in stored[1]] == ["pending", "ok", "pending"]


def test_link_status_and_finish(warehouse: Warehouse) -> None:
    warehouse.create_run("r1", TARGETS, now=T0)
    report = LinkReport(
        link="https://a.example/2",
        status="ok",
        crawler="blog",
        new=2,
        updated=1,
        unchanged=3,
        failed_items=1,
        reason="1 item failed",
    )
    status = warehouse.put_link_status("r1", 2, report, author_id="adam", now=T0 + timedelta(seconds=5))
    warehouse.put_link_status(
        "r1", 0, LinkReport(link="https://a.example/0", status="failed", reason="404"), "maya"
    )
    finished = warehouse.finish_run("r1", "partial", {"ok": 1, "failed": 1}, now=T0 + timedelta(minutes=1))
    assert (finished.status, finished.counts, finished.finished_at) == (
        "partial",
        {"ok": 1, "failed": 1},
        T0 + timedelta(minutes=1),
    )
    stored = warehouse.get_run("r1")
    assert stored is not None
    run, links = stored
    assert run == finished
    assert links[1] == status
    assert LinkReport.model_validate(links[1], from_attributes=True) == report  # as the workflow reads it
    assert (links[0].status, links[0].reason, links[0].crawler) == ("failed", "404", None)


def test_runs_errors(warehouse: Warehouse) -> None:
    assert warehouse.get_run("nope") is None
    with pytest.raises(NotFoundError):
        warehouse.finish_run("nope", "failed", {})
    assert warehouse.get_run("nope") is None
    with pytest.raises(InvalidInputError):
        warehouse.create_run("bad:id", [])
    with pytest.raises(InvalidInputError):
        warehouse.create_run("dup", [(1, "a", "x"), (1, "a", "y")])
    warehouse.create_run("r1", [])
    with pytest.raises(InvalidInputError):
        warehouse.finish_run("r1", "done", {})  # type: ignore[arg-type]


def test_list_runs_most_recent_first(warehouse: Warehouse) -> None:
    assert warehouse.list_runs() == []
    ids = []
    for minutes in (5, 0, 30, 10):
        moment = T0 + timedelta(minutes=minutes)
        ids.append(warehouse.create_run(new_run_id(moment), TARGETS[:1], now=moment).run_id)
    warehouse.create_run("custom-name", [], now=T0 + timedelta(minutes=20))  # sorted by start, not by id
    assert [r.run_id for r in warehouse.list_runs()] == [ids[2], "custom-name", ids[3], ids[0], ids[1]]
    assert [r.run_id for r in warehouse.list_runs(limit=2)] == [ids[2], "custom-name"]


def _counters(warehouse: Warehouse, run_id: str) -> dict[str, int] | None:
    stored = warehouse.get_run(run_id)
    assert stored is not None
    return run_counters(stored[0])


def test_link_writes_keep_the_run_counters(warehouse: Warehouse) -> None:
    run = warehouse.create_run("r1", TARGETS, now=T0)
    assert run_counters(run) == {**zero_counts(), "pending": 3}
    ok = LinkReport(link="https://a.example/2", status="ok", new=2, updated=1, unchanged=3)
    warehouse.put_link_status("r1", 2, ok, "adam")
    warehouse.put_link_status("r1", 2, ok, "adam")  # a retried crawl writes the same outcome again
    failed = LinkReport(link="https://a.example/0", status="failed", reason="404")
    warehouse.put_link_status("r1", 0, failed, "maya")
    warehouse.put_link_status("r1", 0, failed, "maya")  # no change: a single conditional put
    counters = _counters(warehouse, "r1")
    stored = warehouse.get_run("r1")
    assert stored is not None and counters == link_counts(stored[1])
    assert counters == {
        "pending": 1,
        "ok": 1,
        "unchanged": 0,
        "failed": 1,
        "documents_new": 2,
        "documents_updated": 1,
        "documents_unchanged": 3,
    }
    # an outcome replaced by another (a re-crawl of the link): the old one is taken out of the counters
    warehouse.put_link_status("r1", 2, LinkReport(link=ok.link, status="unchanged", unchanged=6), "adam")
    warehouse.put_link_status("r1", 10, LinkReport(link="https://a.example/10", status="ok", new=1), "maya")
    stored = warehouse.get_run("r1")
    assert stored is not None
    assert _counters(warehouse, "r1") == link_counts(stored[1])
    assert link_counts(stored[1]) == {
        **zero_counts(),
        "ok": 1,
        "unchanged": 1,
        "failed": 1,
        "documents_new": 1,
        "documents_unchanged": 6,
    }


def test_counters_survive_a_link_changed_behind_the_writers_back(warehouse: Warehouse) -> None:
    """The writer assumes the link is pending; it is not (written by another writer): re-read, retried."""
    warehouse.create_run("r1", TARGETS, now=T0)
    warehouse.put_link_status("r1", 2, LinkReport(link="x", status="failed", reason="boom"), "adam")
    warehouse.put_link_status("r1", 2, LinkReport(link="x", status="ok", new=4), "adam")
    warehouse.put_link_status("r1", 2, LinkReport(link="x", status="failed", reason="again"), "adam")
    stored = warehouse.get_run("r1")
    assert stored is not None
    expected = {**zero_counts(), "pending": 2, "failed": 1}
    assert _counters(warehouse, "r1") == link_counts(stored[1]) == expected


def test_runs_without_counters_still_record_links(warehouse: Warehouse) -> None:
    """A link of an unknown run, or of a run whose counts were replaced by partial ones: the link is
    written alone, and the counters report themselves unusable (callers recount from the links)."""
    status = warehouse.put_link_status("nope", 3, LinkReport(link="x", status="ok", new=1), "adam")
    assert warehouse.get_run("nope") is None
    warehouse.create_run("r1", TARGETS, now=T0)
    warehouse.finish_run("r1", "partial", {"ok": 1, "failed": 1})
    assert _counters(warehouse, "r1") is None
    warehouse.put_link_status("r1", 2, LinkReport(link="x", status="ok", new=1), "adam")
    stored = warehouse.get_run("r1")
    assert stored is not None and stored[1][1].status == "ok" and stored[0].counts == {"ok": 1, "failed": 1}
    assert status.run_id == "nope"


def test_run_pages_follow_the_link_index(warehouse: Warehouse) -> None:
    targets = [(i, "maya", f"https://a.example/{i}") for i in range(1_203)]
    warehouse.create_run("big", targets, now=T0)
    seen: list[int] = []
    afters: list[int | None] = []
    after: int | None = None
    while True:
        page = warehouse.get_run_page("big", 500, after)
        assert page is not None
        run, links, after = page
        assert run.requested == 1_203 and len(links) <= 500
        seen.extend(link.index for link in links)
        afters.append(after)
        if after is None:
            break
    assert seen == list(range(1_203)) and afters == [499, 999, None]
    exact = warehouse.get_run_page("big", 203, 999)
    assert exact is not None and [s.index for s in exact[1]][-1] == 1_202 and exact[2] is None
    assert warehouse.get_run_page("big", 1, 1_202) == (run, [], None)
    assert warehouse.get_run_page("nope", 10) is None
    with pytest.raises(InvalidInputError):
        warehouse.get_run_page("big", 0)
    with pytest.raises(InvalidInputError):
        warehouse.get_run_page("big", 10, -1)


def test_sparse_indexes_page_in_order(warehouse: Warehouse) -> None:
    warehouse.create_run("r1", TARGETS, now=T0)
    first = warehouse.get_run_page("r1", 2)
    assert first is not None and [s.index for s in first[1]] == [0, 2] and first[2] == 2
    rest = warehouse.get_run_page("r1", 2, first[2])
    assert rest is not None and [s.index for s in rest[1]] == [10] and rest[2] is None


def test_a_link_write_that_keeps_losing_races_is_transient(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each attempt re-reads the link; one that changes under every attempt gives up (the workflow
    retries the crawl) without having touched the counters."""
    warehouse.create_run("r1", TARGETS, now=T0)
    warehouse.put_link_status("r1", 2, LinkReport(link="x", status="failed", reason="boom"), "adam")
    monkeypatch.setattr(Warehouse, "_counted_link", lambda self, run_id, index: ("ok", 9, 9, 9))
    with pytest.raises(TransientStoreError, match=f"lost {LINK_WRITE_ATTEMPTS} write races"):
        warehouse.put_link_status("r1", 2, LinkReport(link="x", status="ok", new=1), "adam")
    assert _counters(warehouse, "r1") == {**zero_counts(), "pending": 2, "failed": 1}


def test_a_page_ends_at_dynamodbs_1_mb_cap(warehouse: Warehouse) -> None:
    """Large links (or reasons): DynamoDB ends the Query at 1 MB, before ``limit``; the page says where
    to continue, so a page stays small and the pages still hold every link once."""
    targets = [(i, "maya", f"https://a.example/{i}/" + "x" * 8_000) for i in range(300)]
    warehouse.create_run("large", targets, now=T0)
    seen: list[int] = []
    pages = 0
    after: int | None = None
    while True:
        page = warehouse.get_run_page("large", 1_000, after)
        assert page is not None
        _, links, after = page
        pages += 1
        assert sum(len(link.link) for link in links) < 1_100_000
        seen.extend(link.index for link in links)
        if after is None:
            break
    assert seen == list(range(300)) and pages >= 3
