"""The ``llm-twin`` command line, run in-process as a user would run it (state under --home)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from llm_twin.cli import main
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings


def run(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_collect_json_report_then_state_persists_between_commands(
    crawl_env: Settings, site: SampleSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "state"
    links = site.entry_links()[:2]
    code, out, _ = run(capsys, home, "collect", "--author", site.author_name, *links, "--json")
    assert code == 0
    report = json.loads(out)  # stdout is exactly the JSON report: no log lines, no metrics blobs
    assert report["status"] == "succeeded"
    assert [link["status"] for link in report["links"]] == ["ok", "ok"]
    assert (home / "warehouse.jsonl").exists()

    code, out, _ = run(capsys, home, "runs", report["run_id"], "--json")
    assert code == 0 and json.loads(out)["links"] == report["links"]

    code, out, _ = run(capsys, home, "authors", "--json")
    authors = json.loads(out)
    assert [a["full_name"] for a in authors] == [site.author_name]
    assert authors[0]["documents"] == {"medium": 5, "substack": 5}

    code, out, _ = run(capsys, home, "collect", "--author", site.author_name, *links)
    assert code == 0 and "succeeded" in out and "unchanged" in out


def test_warehouse_export_import_round_trip(
    crawl_env: Settings, site: SampleSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    assert run(capsys, source, "collect", "--author", site.author_name, site.entry_links()[2])[0] == 0
    dump = tmp_path / "dump.jsonl"
    code, out, _ = run(capsys, source, "warehouse", "export", str(dump))
    assert code == 0 and "exported" in out
    assert run(capsys, target, "warehouse", "import", str(dump))[0] == 0
    again = tmp_path / "again.jsonl"
    assert run(capsys, target, "warehouse", "export", str(again))[0] == 0
    assert again.read_bytes() == dump.read_bytes()


def test_import_linkedin_and_malformed_archives(
    crawl_env: Settings, site: SampleSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "state"
    archive = site.write_linkedin_export(tmp_path / "export.zip")
    code, out, _ = run(capsys, home, "import-linkedin", "--author", site.author_name, str(archive), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["new"] == result["documents"] == len(site.linkedin_posts())

    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("Profile.csv", "First Name,Last Name\nA,B\n")
    other = tmp_path / "other"
    code, _, err = run(capsys, other, "import-linkedin", "--author", "X Y", str(broken))
    assert code == 2 and "Shares.csv" in err
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("hello")
    code, _, err = run(capsys, other, "import-linkedin", "--author", "X Y", str(not_zip))
    assert code == 2 and "error" in err
    code, out, _ = run(capsys, other, "authors", "--json")
    assert json.loads(out) == []  # nothing was written


def test_bad_input_gives_a_clear_error(
    crawl_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, tmp_path, "runs", "no-such-run")
    assert code == 2 and "no collection run" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"item_type": "author"}\nnot json\n')
    code, _, err = run(capsys, tmp_path, "warehouse", "import", str(bad))
    assert code == 2 and "line" in err


def test_search_contract_and_rebuild(
    crawl_env: Settings, site: SampleSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "state"
    assert run(capsys, home, "collect", "--author", site.author_name, site.entry_links()[2])[0] == 0
    query = "idempotent pipelines and the 3 a.m. page"
    code, out, _ = run(capsys, home, "search", query, "--author", site.author_name, "-k", "3", "--json")
    assert code == 0
    results = json.loads(out)
    assert len(results) == 3
    keys = {"text", "score", "document_id", "link", "title", "author", "platform", "category"}
    assert all(set(r) == keys for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert {r["author"] for r in results} == {site.author_name}
    code, out, _ = run(capsys, home, "search", query, "--author", "Nobody Else", "--json")
    assert code == 0 and json.loads(out) == []  # the author filter never leaks another author

    code, out, _ = run(capsys, home, "features", "--rebuild")
    assert code == 0 and "rebuilt index generation" in out
    code, again, _ = run(capsys, home, "search", query, "--author", site.author_name, "-k", "3", "--json")
    assert [r["document_id"] for r in json.loads(again)] == [r["document_id"] for r in results]
    generations = [p.name for p in (home / "index").iterdir() if p.name.endswith(".lance")]
    assert len(generations) == 1  # the old generation was dropped after the switch
