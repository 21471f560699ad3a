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
