"""``llm-twin ask`` and ``llm-twin generate`` as a user runs them: a collected author under --home, the
local LMI server started by the command, SmolLM2-135M answering (small token limits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from tests.cli.test_cli import run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def fast_twin(crawl_env: Settings, base_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_TWIN_LOCAL_MODEL_DIR", str(base_model))
    monkeypatch.setenv("LLM_TWIN_RAG_SELF_QUERY", "false")
    monkeypatch.setenv("LLM_TWIN_RAG_AUX_MAX_TOKENS", "24")
    monkeypatch.setenv("LLM_TWIN_RAG_ANSWER_MAX_TOKENS", "40")
    monkeypatch.setenv("LLM_TWIN_RAG_DRAFT_MAX_TOKENS", "40")


def test_ask_and_generate(
    fast_twin: None, site: SampleSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "state"
    assert run(capsys, home, "collect", "--author", site.author_name, site.entry_links()[0])[0] == 0

    code, out, _ = run(capsys, home, "ask", "Why chunk documents by heading?", "--no-expand", "--json")
    assert code == 0
    answer = json.loads(out)  # stdout is exactly the JSON answer
    assert answer["grounded"] and answer["answer"].strip() and answer["sources"]

    article = site.pieces("medium")[0]
    link = site.piece_url("medium", article.slug)
    code, out, _ = run(capsys, home, "generate", "A post about this article", "--link", link)
    assert code == 0
    body, _, sources = out.partition("\nSources (* cited in the answer):\n")
    assert body.strip() and sources.strip().count("[") >= 1
    assert all(line.lstrip(" *").startswith("[") for line in sources.strip().splitlines())

    code, _, err = run(capsys, home, "generate", "x", "--link", "http://169.254.169.254/latest/")
    assert code != 0 and "169.254.169.254" in err  # refused by the SSRF guard, a clear message
