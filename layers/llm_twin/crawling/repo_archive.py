"""Read a repository tarball in memory, safely: text files only, no extraction, bounded work.

Streaming ``tarfile`` over a byte-counting reader: symlinks/devices are ignored, unsafe paths are
skipped, and decompression stops after ``max_unpacked_bytes`` (tar bombs).
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import IO

from llm_twin.crawling.repo_files import SkipReason, classify_path, language_for, looks_minified
from llm_twin.errors import ArchiveError

BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class ArchiveLimits:
    max_file_bytes: int
    max_repo_bytes: int
    max_files: int
    max_unpacked_bytes: int


@dataclass(frozen=True)
class RepoFile:
    path: str
    text: str
    language: str


@dataclass
class ArchiveContents:
    files: list[RepoFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why reading stopped early, if it did
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count


class _UnpackedTooLarge(Exception):
    pass


class _CountingReader(io.RawIOBase):
    """Counts the decompressed bytes tarfile actually reads; stops past the limit."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._inner.read(size if size is not None and size >= 0 else self._limit + 1)
        self.count += len(chunk)
        if self.count > self._limit:
            raise _UnpackedTooLarge
        return chunk


def safe_member_path(name: str) -> str | None:
    """The member's relative POSIX path, or None for absolute, traversing or odd names."""
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
    ):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return posixpath.join(*parts)


def _strip_root(path: str, root: str | None) -> str:
    if root and path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return path


def _open(data: bytes, limit: int) -> _CountingReader:
    inner: IO[bytes] = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        inner = gzip.GzipFile(fileobj=inner, mode="rb")
    return _CountingReader(inner, limit)


def read_repo_archive(data: bytes, limits: ArchiveLimits, *, source: str = "archive") -> ArchiveContents:
    """The text files of a (gzipped) tarball; ArchiveError when it is truncated or not a tarball."""
    if not data:
        raise ArchiveError(f"the repository archive {source} is empty")
    contents = ArchiveContents()
    try:
        _read_members(_open(data, limits.max_unpacked_bytes), limits, contents)
    except _UnpackedTooLarge:
        contents.notes.append(
            f"stopped reading {source}: more than {limits.max_unpacked_bytes} bytes once decompressed"
        )
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ArchiveError(f"the repository archive {source} is truncated or corrupt: {exc}") from exc
    return contents


def _skip(contents: ArchiveContents, reason: str) -> None:
    contents.skipped[reason] = contents.skipped.get(reason, 0) + 1


def _read_members(stream: _CountingReader, limits: ArchiveLimits, contents: ArchiveContents) -> None:
    root: str | None = None
    kept_bytes = 0
    seen_any = False
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            seen_any = True
            path = safe_member_path(member.name)
            if path is None:
                _skip(contents, SkipReason.UNSAFE_PATH)
                continue
            if root is None:  # GitHub tarballs hold one top folder: owner-repo-sha/
                root = path.split("/", 1)[0] if member.isdir() or "/" in path else ""
                if member.isdir() and "/" not in path:
                    continue
            if not member.isreg():
                _skip(contents, SkipReason.NOT_A_FILE)
                continue
            path = _strip_root(path, root)
            reason = classify_path(path, member.size, limits.max_file_bytes)
            if reason is not None:
                _skip(contents, reason)
                continue
            handle = tar.extractfile(member)
            raw = handle.read(limits.max_file_bytes + 1) if handle else b""
            if len(raw) != member.size:
                raise tarfile.ReadError(f"{path}: expected {member.size} bytes, read {len(raw)}")
            if b"\x00" in raw[:BINARY_SNIFF_BYTES]:
                _skip(contents, SkipReason.BINARY)
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                _skip(contents, SkipReason.NOT_UTF8)
                continue
            if not text.strip():
                _skip(contents, SkipReason.EMPTY)
                continue
            if looks_minified(path, text):
                _skip(contents, SkipReason.MINIFIED)
                continue
            if len(contents.files) >= limits.max_files:
                contents.notes.append(f"kept the first {limits.max_files} files (github_max_files)")
                return
            if kept_bytes + len(raw) > limits.max_repo_bytes:
                contents.notes.append(f"kept {kept_bytes} bytes of text (github_max_repo_bytes)")
                return
            kept_bytes += len(raw)
            contents.files.append(RepoFile(path=path, text=text, language=language_for(path)))
    if not seen_any:
        raise ArchiveError("the repository archive has no entries")
