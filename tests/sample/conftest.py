"""One sample site for the whole package of tests; every test starts from a clean state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from llm_twin.sample import SampleSite


@pytest.fixture(scope="session")
def site() -> Iterator[SampleSite]:
    with SampleSite() as running:
        yield running


@pytest.fixture(autouse=True)
def _clean_site(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "site" in request.fixturenames:
        request.getfixturevalue("site").reset()


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["User-Agent"] = "llm-twin-tests/1.0"
        yield session
