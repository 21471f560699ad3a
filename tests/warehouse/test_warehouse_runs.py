from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from llm_twin.domain.models import LinkReport
from llm_twin.errors import InvalidInputError
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.repository import Warehouse, new_run_id

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
    assert again == first
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
