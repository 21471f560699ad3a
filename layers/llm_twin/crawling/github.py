"""GitHub: a repository → its HEAD tarball → one document per kept text file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from llm_twin.crawling.base import CrawlOutcome
from llm_twin.crawling.fetcher import Fetcher, FetchResponse
from llm_twin.crawling.markdown import fenced, truncate_utf8
from llm_twin.crawling.repo_archive import ArchiveLimits, RepoFile, read_repo_archive
from llm_twin.domain.models import Category, CrawledDocument, Platform
from llm_twin.errors import CrawlError
from llm_twin.settings import Settings

ARCHIVE_ACCEPT = "application/x-gzip,application/gzip,application/octet-stream;q=0.9,*/*;q=0.5"
ARCHIVE_TIMEOUT_FACTOR = 6  # a tarball may be 10x a page: give it 6 request budgets
UNPACKED_FACTOR = 10  # decompressed bytes read at most, relative to github_max_archive_bytes
TARBALL_PATH = re.compile(r"\.(tar\.gz|tgz|tar)$", re.I)
_ARCHIVE_PATH = re.compile(r"^/([^/]+)/([^/]+)/archive/")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class RepoRef:
    owner: str
    name: str
    repo_url: str
    tarball_url: str


def parse_repo_url(url: str) -> RepoRef:
    """``https://host/owner/repo[...]`` or a direct ``.tar.gz`` URL → where the repo and tarball are."""
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc.lower(), "", "", ""))
    if TARBALL_PATH.search(parts.path):
        match = _ARCHIVE_PATH.match(parts.path)
        if match:
            owner, name = match.group(1), match.group(2)
            return RepoRef(owner, name, f"{base}/{owner}/{name}", url)
        stem = TARBALL_PATH.sub("", parts.path).rstrip("/")
        name = stem.rsplit("/", 1)[-1] or "archive"
        return RepoRef(parts.hostname or "archive", name, f"{base}{stem}", url)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        raise CrawlError(f"{url} is not a repository URL (expected https://github.com/owner/repo)")
    owner, name = segments[0], segments[1].removesuffix(".git")
    if not _NAME.match(owner) or not _NAME.match(name):
        raise CrawlError(f"{url} is not a repository URL (odd owner or repository name)")
    repo_url = f"{base}/{owner}/{name}"
    return RepoRef(owner, name, repo_url, f"{repo_url}/archive/HEAD.tar.gz")


class GitHubCrawler:
    name: ClassVar[str] = "github"

    def __init__(self, fetcher: Fetcher, settings: Settings | None = None) -> None:
        self.fetcher = fetcher
        self.settings = settings or fetcher.settings

    def crawl(self, url: str, first: FetchResponse | None = None) -> CrawlOutcome:
        repo = parse_repo_url(url)
        if first is not None and first.content[:2] == b"\x1f\x8b":
            response = first
        else:
            response = self.fetcher.fetch(
                repo.tarball_url,
                accept=ARCHIVE_ACCEPT,
                max_bytes=self.settings.github_max_archive_bytes,
                timeout_s=self.settings.crawl_timeout_s * ARCHIVE_TIMEOUT_FACTOR,
            )
        limits = ArchiveLimits(
            max_file_bytes=self.settings.github_max_file_bytes,
            max_repo_bytes=self.settings.github_max_repo_bytes,
            max_files=self.settings.github_max_files,
            max_unpacked_bytes=self.settings.github_max_archive_bytes * UNPACKED_FACTOR,
        )
        contents = read_repo_archive(response.content, limits, source=repo.tarball_url)
        if not contents.files:
            raise CrawlError(f"no text files to keep in {repo.tarball_url} (skipped: {contents.skipped})")
        documents = [self.file_document(repo, file) for file in contents.files]
        return CrawlOutcome(documents=documents, item_errors=contents.notes)

    def file_document(self, repo: RepoRef, file: RepoFile) -> CrawledDocument:
        content = file.text if file.language == "markdown" else fenced(file.text, file.language)
        content, truncated = truncate_utf8(content, self.settings.max_document_bytes)
        metadata = {"repo": f"{repo.owner}/{repo.name}", "path": file.path, "language": file.language}
        if truncated:
            metadata["truncated"] = "true"
        return CrawledDocument(
            platform=Platform.GITHUB,
            category=Category.REPOSITORY,
            link=f"{repo.repo_url}/blob/HEAD/{quote(file.path, safe='/')}",
            title=f"{repo.owner}/{repo.name}: {file.path}",
            content=content,
            metadata=metadata,
        )
