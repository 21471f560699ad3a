from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llm_twin.domain.models import Category, CrawledDocument, Platform
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.repository import Warehouse

T0 = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


def _doc(n: int) -> CrawledDocument:
    return CrawledDocument(
        platform=Platform.BLOG,
        category=Category.ARTICLE,
        link=f"https://blog.example/p/{n}",
        title=f"T{n}",
        content=f"post {n}",
    )


def test_upsert_author_creates_with_defaults_and_canonical_deduped_links(warehouse: Warehouse) -> None:
    author = warehouse.upsert_author(
        "Maya Lindqvist",
        ["https://Medium.com/@maya/", "https://medium.com/@maya#top", "https://github.com/maya", "  "],
        now=T0,
    )
    assert author.author_id == "maya-lindqvist"
    assert author.full_name == "Maya Lindqvist"
    assert author.links == ["https://medium.com/@maya", "https://github.com/maya"]
    assert author.schedule_enabled is True
    assert author.created_at == author.updated_at == T0
    assert warehouse.get_author("maya-lindqvist") == author


def test_upsert_author_adds_new_links_in_order_and_is_idempotent(warehouse: Warehouse) -> None:
    warehouse.upsert_author("Maya Lindqvist", ["https://a.example/1"], now=T0)
    same = warehouse.upsert_author("maya lindqvist", ["https://A.example/1/"], now=T1)
    assert same.updated_at == T0  # nothing new: nothing written
    more = warehouse.upsert_author("Maya Lindqvist", ["https://b.example/2", "https://a.example/1"], now=T1)
    assert more.links == ["https://a.example/1", "https://b.example/2"]
    assert more.created_at == T0
    assert more.updated_at == T1
    assert more.full_name == "Maya Lindqvist"


def test_get_list_and_update_authors(warehouse: Warehouse) -> None:
    assert warehouse.get_author("nobody") is None
    assert warehouse.list_authors() == []
    warehouse.upsert_author("Zoe Park")
    warehouse.upsert_author("Adam Ng", ["https://x.example"])
    assert [a.author_id for a in warehouse.list_authors()] == ["adam-ng", "zoe-park"]

    replaced = warehouse.set_author_links(
        "adam-ng", ["https://y.example/", "https://y.example", "https://z.example"]
    )
    assert replaced.links == ["https://y.example/", "https://z.example/"]
    assert warehouse.set_author_schedule("adam-ng", False).schedule_enabled is False
    assert warehouse.get_author("adam-ng") == warehouse.list_authors()[0]

    with pytest.raises(NotFoundError):
        warehouse.set_author_links("nobody", [])
    assert warehouse.get_author("nobody") is None  # the failed update created nothing


def test_delete_author_cascades_to_all_their_documents_only(warehouse: Warehouse) -> None:
    warehouse.upsert_author("Maya Lindqvist")
    warehouse.upsert_author("Adam Ng")
    for n in range(30):  # more than one 25-item batch
        warehouse.upsert_document("maya-lindqvist", "Maya Lindqvist", _doc(n))
    warehouse.upsert_document("adam-ng", "Adam Ng", _doc(99))

    assert warehouse.delete_author("maya-lindqvist") == 31
    assert warehouse.get_author("maya-lindqvist") is None
    assert warehouse.list_documents(author_id="maya-lindqvist") == []
    assert [d.author_id for d in warehouse.list_documents()] == ["adam-ng"]
    assert [a.author_id for a in warehouse.list_authors()] == ["adam-ng"]
    assert warehouse.delete_author("maya-lindqvist") == 0
