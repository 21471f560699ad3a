"""The HTTP API end to end with nothing standing in but moto: `POST /rag` and `POST /generate` through
the local API server → the real API handler → the RAG service over the indexed sample author → the
local LMI-protocol server → SmolLM2-135M-Instruct. Small token limits keep each call to seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from llm_twin.api.local_server import LocalApiServer
from llm_twin.local.llm import local_llm
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
KEY = "end-to-end-key"


@pytest.fixture
def twin_api(
    indexed_sample: Settings, base_model: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalApiServer]:
    for name, value in {
        "LLM_TWIN_LOCAL_MODEL_DIR": str(base_model),
        "LLM_TWIN_RAG_SELF_QUERY": "false",  # the rules still extract the author
        "LLM_TWIN_RAG_EXPANSIONS": "1",
        "LLM_TWIN_RAG_AUX_MAX_TOKENS": "32",
        "LLM_TWIN_RAG_ANSWER_MAX_TOKENS": "48",
        "LLM_TWIN_RAG_DRAFT_MAX_TOKENS": "48",
    }.items():
        monkeypatch.setenv(name, value)
    settings = indexed_sample.model_copy(update={"local_model_dir": base_model, "llm": "lmi-local"})
    with local_llm(settings) as settings, LocalApiServer(settings, port=0, api_key=KEY) as server:
        yield server


def post(server: LocalApiServer, path: str, body: dict) -> requests.Response:
    return requests.post(f"{server.url}{path}", json=body, headers={"x-api-key": KEY}, timeout=120)


def test_rag_and_generate_through_the_api(twin_api: LocalApiServer, site: SampleSite) -> None:
    asked = post(twin_api, "/rag", {"query": "Why does Nell Harrowgate chunk documents by heading?"})
    assert asked.status_code == 200, asked.text
    answer = asked.json()
    assert answer["grounded"] and answer["answer"].strip()
    assert answer["sources"] and all(s["link"].startswith("http://127.0.0.1:") for s in answer["sources"])
    numbers = sorted({s["number"] for s in answer["sources"]})
    assert numbers == list(range(1, len(numbers) + 1))
    assert answer["trace_id"]

    article = site.pieces("blog")[0]
    drafted = post(
        twin_api,
        "/generate",
        {
            "kind": "linkedin_post",
            "prompt": "A short post about this piece",
            "link": site.piece_url("blog", article.slug),
        },
    )
    assert drafted.status_code == 200, drafted.text
    draft = drafted.json()
    assert draft["answer"].strip() and draft["sources"]

    refused = post(twin_api, "/generate", {"prompt": "x", "link": "http://169.254.169.254/latest/meta-data"})
    assert refused.status_code == 422 and "link" in refused.text  # the SSRF guard, before any fetch
    assert requests.post(f"{twin_api.url}/rag", json={"query": "q"}, timeout=10).status_code == 403
