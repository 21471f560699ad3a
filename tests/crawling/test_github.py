"""GitHub repositories: tarball download (redirect re-validated), safe streaming read, file filters."""

from __future__ import annotations

import tarfile

import pytest

from llm_twin.crawling.fetcher import Fetcher
from llm_twin.crawling.github import GitHubCrawler, parse_repo_url
from llm_twin.crawling.repo_archive import ArchiveLimits, read_repo_archive, safe_member_path
from llm_twin.domain.models import Category, Platform
from llm_twin.errors import ArchiveError, BlockedUrlError, CrawlError

from . import pages, tarballs
from .conftest import LocalServer, Reply, make_settings
from .tarballs import entry

README = "# Tools\n\nSmall *helpers* I use every day.\n\n```bash\nmake test\n```\n"
APP = 'import sys\n\n\ndef main() -> int:\n    print("```not a fence```", sys.argv)\n    return 0\n'
LIMITS = ArchiveLimits(max_file_bytes=10_000, max_repo_bytes=100_000, max_files=100, max_unpacked_bytes=10**7)

REPO_ENTRIES = [
    entry("README.md", README),
    entry("src/app.py", APP),
    entry("src/util.ts", "export const x: number = 1;\n"),
    entry("Dockerfile", "FROM python:3.12\n"),
    entry("Makefile", "test:\n\tpytest\n"),
    entry("pyproject.toml", "[project]\nname = 'tools'\n"),
    entry("node_modules/left-pad/index.js", "module.exports = 1;\n"),
    entry("vendor/lib.go", "package lib\n"),
    entry("dist/app.js", "var a=1;\n"),
    entry("package-lock.json", "{}\n"),
    entry("poetry.lock", "# lock\n"),
    entry("static/app.min.js", "var a=1;\n"),
    entry("assets/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00"),
    entry("data/blob.txt", b"text\x00with NUL"),
    entry("src/huge.py", "x = 1\n" * 5000),  # 30 KB > max_file_bytes
    entry("config/big.json", "[" + "1," * 15_000 + "1]"),  # > small-JSON cap
    entry("src/empty.py", ""),
    entry("link.py", kind=tarfile.SYMTYPE, link="/etc/passwd"),
    entry("hard.py", kind=tarfile.LNKTYPE, link="tools-HEAD/src/app.py"),
    entry("dev.sh", kind=tarfile.CHRTYPE),
    entry("../escape.py", "print('outside')\n"),
    entry("/abs.py", "print('abs')\n"),
    entry("docs/latin.txt", "caf\xe9".encode("latin-1")),
]


def test_archive_filters_text_files_safely() -> None:
    contents = read_repo_archive(tarballs.build(REPO_ENTRIES), LIMITS)
    assert [f.path for f in contents.files] == [
        "README.md", "src/app.py", "src/util.ts", "Dockerfile", "Makefile", "pyproject.toml",
    ]  # fmt: skip
    assert [f.language for f in contents.files] == ["markdown", "python", "typescript", "dockerfile",
                                                    "makefile", "toml"]  # fmt: skip
    assert contents.files[1].text == APP
    assert contents.skipped == {
        "vendored or build folder": 3, "lock file": 2, "minified": 1, "not an allow-listed text file": 1,
        "binary": 1, "too large": 2, "empty": 1, "not a regular file": 3, "unsafe path": 2, "not UTF-8": 1,
    }  # fmt: skip
    assert contents.notes == []


def test_plain_tar_without_root_folder() -> None:
    data = tarballs.build([entry("main.go", "package main\n")], root=None, gzip=False)
    assert [f.path for f in read_repo_archive(data, LIMITS).files] == ["main.go"]


@pytest.mark.parametrize(
    ("field", "value", "kept", "note"),
    [("max_files", 2, 2, "github_max_files"), ("max_repo_bytes", 100, 1, "github_max_repo_bytes")],
)
def test_repository_caps_stop_reading(field: str, value: int, kept: int, note: str) -> None:
    limits = ArchiveLimits(**{**LIMITS.__dict__, field: value})
    contents = read_repo_archive(tarballs.build(REPO_ENTRIES), limits)
    assert len(contents.files) == kept
    assert note in contents.notes[0]


def test_tar_bomb_stops_at_the_unpacked_limit() -> None:
    data = tarballs.build(
        [entry("a.py", "a = 1\n"), entry("zeros.bin", b"\x00" * 3_000_000), entry("b.py", "b\n")]
    )
    assert len(data) < 50_000
    limits = ArchiveLimits(**{**LIMITS.__dict__, "max_unpacked_bytes": 1_000_000})
    contents = read_repo_archive(data, limits)
    assert [f.path for f in contents.files] == ["a.py"]
    assert "decompressed" in contents.notes[0]


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_tarball_is_an_archive_error(cut: float) -> None:
    data = tarballs.build([entry(f"f{i}.py", f"x = {i}\n" * 2000) for i in range(5)])
    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        read_repo_archive(data[: int(len(data) * cut)], LIMITS)


@pytest.mark.parametrize("data", [b"this is not a tarball at all", b"\x1f\x8b\x08garbage", b""])
def test_garbage_is_an_archive_error(data: bytes) -> None:
    with pytest.raises(ArchiveError):
        read_repo_archive(data, LIMITS)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("a/b.py", "a/b.py"),
        ("./a//b.py", "a/b.py"),
        ("../x", None),
        ("a/../../x", None),
        ("/etc/x", None),
        ("C:/x", None),
        ("a\\..\\x", None),
    ],
)
def test_safe_member_path(name: str, safe: str | None) -> None:
    assert safe_member_path(name) == safe


def serve_repo(server: LocalServer) -> None:
    server.route("/maya/tools", pages.github_repo_page("maya", "tools"))
    server.route("/maya/tools/archive/HEAD.tar.gz",
                 Reply(status=302, headers={"Location": "/codeload/maya/tools/tar.gz/HEAD"}))  # fmt: skip
    server.route("/codeload/maya/tools/tar.gz/HEAD",
                 Reply(tarballs.build(REPO_ENTRIES), content_type="application/x-gzip"))  # fmt: skip


def test_github_crawler_downloads_the_tarball_and_makes_one_document_per_file(server: LocalServer) -> None:
    serve_repo(server)
    fetcher = Fetcher(make_settings(github_max_file_bytes=10_000))
    outcome = GitHubCrawler(fetcher).crawl(server.url("/maya/tools"))
    docs = {d.metadata["path"]: d for d in outcome.documents}
    assert len(docs) == 6 and outcome.item_errors == []
    app = docs["src/app.py"]
    assert (app.platform, app.category) == (Platform.GITHUB, Category.REPOSITORY)
    assert app.title == "maya/tools: src/app.py"
    assert app.link == server.url("/maya/tools/blob/HEAD/src/app.py")
    assert app.content == f"````python\n{APP.removesuffix(chr(10))}\n````"  # fence outgrows the ``` inside
    assert app.metadata == {"repo": "maya/tools", "path": "src/app.py", "language": "python"}
    assert docs["README.md"].content == README
    assert server.hits["/maya/tools"] == 0


def test_direct_tarball_url(server: LocalServer, fetcher: Fetcher) -> None:
    url = server.route("/downloads/tools.tar.gz", Reply(tarballs.build(REPO_ENTRIES[:2]), content_type=None))
    docs = GitHubCrawler(fetcher).crawl(url).documents
    assert [d.title for d in docs] == ["127.0.0.1/tools: README.md", "127.0.0.1/tools: src/app.py"]
    assert docs[1].link == server.url("/downloads/tools/blob/HEAD/src/app.py")


def test_archive_size_cap_applies_to_the_download(server: LocalServer) -> None:
    serve_repo(server)
    fetcher = Fetcher(make_settings(github_max_archive_bytes=500))
    with pytest.raises(Exception, match="500"):
        GitHubCrawler(fetcher).crawl(server.url("/maya/tools"))


def test_tarball_redirect_to_a_private_address_is_refused(server: LocalServer, fetcher: Fetcher) -> None:
    server.route(
        "/maya/evil/archive/HEAD.tar.gz", Reply(status=302, headers={"Location": "http://10.1.2.3/x.tgz"})
    )
    with pytest.raises(BlockedUrlError):
        GitHubCrawler(fetcher).crawl(server.url("/maya/evil"))


def test_repository_without_text_files(server: LocalServer, fetcher: Fetcher) -> None:
    server.route("/maya/art/archive/HEAD.tar.gz", Reply(tarballs.build([entry("a.png", b"\x89PNG")])))
    with pytest.raises(CrawlError, match="no text files"):
        GitHubCrawler(fetcher).crawl(server.url("/maya/art"))


@pytest.mark.parametrize(
    ("url", "repo_url", "tarball"),
    [
        ("https://github.com/maya/tools", "https://github.com/maya/tools",
         "https://github.com/maya/tools/archive/HEAD.tar.gz"),
        ("https://github.com/maya/tools.git", "https://github.com/maya/tools",
         "https://github.com/maya/tools/archive/HEAD.tar.gz"),
        ("https://GitHub.com/maya/tools/tree/main/src", "https://github.com/maya/tools",
         "https://github.com/maya/tools/archive/HEAD.tar.gz"),
        ("https://github.com/maya/tools/archive/refs/heads/main.tar.gz", "https://github.com/maya/tools",
         "https://github.com/maya/tools/archive/refs/heads/main.tar.gz"),
    ],
)  # fmt: skip
def test_parse_repo_url(url: str, repo_url: str, tarball: str) -> None:
    ref = parse_repo_url(url)
    assert (ref.owner, ref.name, ref.repo_url, ref.tarball_url) == ("maya", "tools", repo_url, tarball)


@pytest.mark.parametrize(
    "url", ["https://github.com/maya", "https://github.com/", "https://github.com/a/b c"]
)
def test_non_repository_urls(url: str) -> None:
    with pytest.raises(CrawlError):
        parse_repo_url(url)
