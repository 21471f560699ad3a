"""The repository tarball, served the way GitHub serves it."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import tarfile

import requests

from llm_twin.sample import SampleSite, load_corpus

REPO = load_corpus().repository


def _download(site: SampleSite, http: requests.Session) -> tuple[requests.Response, bytes]:
    url = f"{site.entry_links()[3]}/archive/HEAD.tar.gz"
    redirect = http.get(url, allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == f"{site.base_url('github')}/codeload/nharrowgate/kerf/tar.gz/HEAD"
    response = http.get(url, timeout=5)
    assert response.status_code == 200
    return response, response.content


def test_head_tarball_redirects_to_codeload(site: SampleSite, http: requests.Session):
    response, data = _download(site, http)
    assert response.headers["Content-Type"] == "application/x-gzip"
    assert response.headers["Content-Disposition"] == f"attachment; filename=kerf-{REPO.sha}.tar.gz"
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data)  # a valid gzip stream
    assert _download(site, http)[1] == data  # reproducible


def test_tarball_has_one_top_folder_and_the_skip_bait(site: SampleSite, http: requests.Session):
    _, data = _download(site, http)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert tar.pax_headers["comment"] == REPO.sha
        members = tar.getmembers()
        top = {m.name.split("/")[0] for m in members}
        assert top == {f"kerf-{REPO.sha}"}
        files = {m.name.split("/", 1)[1]: tar.extractfile(m).read() for m in members if m.isfile()}
    assert files == dict(REPO.files)
    assert 8 <= len([p for p in files if not p.startswith(("node_modules/", "."))]) <= 16
    for path in ("README.md", "pyproject.toml", "LICENSE", "kerf/__init__.py", "tests/test_split.py"):
        assert path in files
    assert b"\0" in files["docs/kerf-logo.png"] and files["docs/kerf-logo.png"].startswith(b"\x89PNG")
    assert "node_modules/markdownlint-cli2/index.js" in files
    assert "uv.lock" in files
    assert ".github/workflows/ci.yml" in files and ".gitignore" in files
    assert sum(p.startswith("kerf/") and p.endswith(".py") for p in files) >= 4


def test_the_repository_is_a_working_library(site: SampleSite, http: requests.Session, tmp_path):
    _, data = _download(site, http)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / f"kerf-{REPO.sha}"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
