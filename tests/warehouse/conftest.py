"""Warehouse tests run against moto's server (through LocalAws), one fresh table per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from llm_twin.local.aws import LocalAws
from llm_twin.settings import Settings
from llm_twin.warehouse.repository import Warehouse
from llm_twin.warehouse.table import create_table, delete_table


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    running = LocalAws.active()  # share one a wider fixture may have started
    if running is not None:
        yield running
        return
    with LocalAws(Settings(home=tmp_path_factory.mktemp("home")), restore=False) as started:
        yield started


@pytest.fixture
def settings(local: LocalAws) -> Iterator[Settings]:
    fresh = local.settings.model_copy(update={"table_name": f"wh-{uuid.uuid4().hex[:12]}"})
    create_table(fresh)
    yield fresh
    delete_table(fresh)


@pytest.fixture
def warehouse(settings: Settings) -> Warehouse:
    return Warehouse(settings)
