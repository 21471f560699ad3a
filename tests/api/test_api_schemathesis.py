"""Property-based tests of the local server against the committed OpenAPI document (schemathesis):
whatever the generated input, the API answers with a 4xx, never a server error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from llm_twin.api.local_server import LocalApiServer
from llm_twin.collection.events import CollectionRequest
from llm_twin.local.aws import LocalAws
from tests.api.conftest import FakeRag

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:No application metrics to publish")]
OPENAPI_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
KEY = "schemathesis-key"


@pytest.fixture
def fuzz_server(local_aws: LocalAws, api_env: None) -> Iterator[LocalApiServer]:
    """Collections are recorded, not crawled (generated links would reach the internet)."""
    started: list[CollectionRequest] = []
    with LocalApiServer(
        local_aws.settings, api_key=KEY, rag_factory=lambda _s: FakeRag(), run_collection=started.append
    ) as server:
        yield server


schema = schemathesis.openapi.from_path(OPENAPI_FILE)  # the committed document, not the live one


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors(case: schemathesis.Case, fuzz_server: LocalApiServer) -> None:
    response = case.call(base_url=fuzz_server.url, headers={"x-api-key": KEY})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    )
    media = (response.headers.get("content-type") or [""])[0]
    assert response.status_code == 204 or media.startswith("application/json"), (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.headers}"
    )
