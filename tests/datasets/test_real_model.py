"""``llm-twin dataset build`` with the real local model (SmolLM2-135M behind the local LMI server) on
part of the sample author: a few short extracts and small token limits keep it to a minute or two."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from tests.cli.test_cli import run
from training.datasets.extracts import ExtractConfig, extract_documents
from training.datasets.quality import text_hash
from training.datasets.store import load_dataset_version

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
KNOWN_ERRORS = {
    "instruction.malformed_reply",
    "instruction.invalid_reply",
    "instruction.llm_error",
    "instruction.repaired",
    "instruction.fallback",
    "draft.llm_error",
    "draft.empty",
    "draft.failed",
}


def test_dataset_build_with_the_local_model(
    crawl_env: Settings,
    base_model: Path,
    site: SampleSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LLM_TWIN_LOCAL_MODEL_DIR", str(base_model))
    monkeypatch.setenv("LLM_TWIN_LMI_TIMEOUT_S", "600")  # a busy CI machine must not turn into llm_errors
    home = tmp_path / "state"
    assert run(capsys, home, "collect", "--author", site.author_name, site.entry_links()[0])[0] == 0
    archive = site.write_linkedin_export(tmp_path / "export.zip")
    assert run(capsys, home, "import-linkedin", "--author", site.author_name, str(archive))[0] == 0

    code, out, err = run(
        capsys, home, "dataset", "build", "--author", site.author_name,
        "--limit", "3", "--min-words", "40", "--max-words", "90", "--test-ratio", "0.3",
        "--instruction-max-tokens", "24", "--draft-max-tokens", "32", "--min-draft-words", "3",
        "--max-attempts", "1", "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)  # stdout is exactly the JSON report
    assert report["extracts_used"] == 3 and report["source_documents"] == 16  # 5 articles + 11 posts
    assert "smollm2" in report["generator_model"]
    assert report["items_per_s"] > 0
    outcomes = report["instructions"]
    assert outcomes.get("llm", 0) + outcomes.get("repaired", 0) + outcomes.get("fallback", 0) == 3
    assert set(report["errors"]) <= KNOWN_ERRORS
    assert report["errors"].get("instruction.fallback", 0) == outcomes.get("fallback", 0)

    root = home / "datasets"
    instruct = load_dataset_version(root, "instruct")  # rows and card validated by the schema
    preference = load_dataset_version(root, "preference")
    assert instruct.uri == report["datasets"]["instruct"]["uri"]
    with open(root / "instruct" / "LATEST") as latest:
        assert latest.read().strip() == instruct.version

    from llm_twin.cli.session import local_session

    with local_session(Settings(home=home), mutating=False) as local:
        documents = local.warehouse().list_documents()
    extracts = {
        (e.document.document_id, e.index): e.text
        for e in extract_documents(documents, ExtractConfig(min_words=40, max_words=90)).extracts
    }
    for version in (instruct, preference):
        folder = root / version.kind / version.version
        for split in ("train", "test"):
            lines = (folder / f"{split}.jsonl").read_text().splitlines()
            assert version.card.counts[split] == len(lines)  # card counts match the files
        rows = version.train + version.test
        assert len({r.id for r in rows}) == len(rows)  # no duplicates
        train_docs = {r.provenance.document_id for r in version.train}
        assert train_docs and not train_docs & {r.provenance.document_id for r in version.test}  # no leakage
        assert version.card.extracts == 3 and version.card.per_author == {site.author_name: len(rows)}
    assert len(instruct.train) + len(instruct.test) == 3
    for row in instruct.train + instruct.test:
        assert row.answer_source == "author"
        assert row.answer == extracts[(row.provenance.document_id, row.provenance.extract_index)]
        assert row.id == text_hash(row.instruction, row.answer)
    kept = len(preference.train) + len(preference.test)
    dropped = sum(v for k, v in preference.card.filters.items() if k.startswith("rejected_"))
    assert kept + dropped + report["errors"].get("draft.failed", 0) == 3
    for pair in preference.train + preference.test:
        assert pair.chosen == extracts[(pair.provenance.document_id, pair.provenance.extract_index)]
        assert pair.rejected.strip() and pair.rejected != pair.chosen
