"""The sample author's corpus: loaded from the package data, never at import time.

Content lives in data files next to this module:

- ``corpus.json``: the author, the publications, the GitHub repository's metadata and one entry per
  piece (platform, slug, title, subtitle, date, tags);
- ``pieces/<platform>/<slug>.md``: each piece's body in markdown. Cross-links between pieces are
  written as ``{{url:<platform>/<slug>}}`` (or ``{{url:github}}`` for the repository) and resolved
  when a page is rendered, against whichever origins serve the site;
- ``github/<repo>/``: the repository's files as they would be checked out, except that a leading dot
  is stored as ``dot.`` (``dot.github/``, ``dot.gitignore``) because package data globs skip dotfiles;
- ``linkedin/export.json``: the rows of the LinkedIn data export;
- ``questions.jsonl``: the labelled retrieval questions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from llm_twin.sample._markdown import plain_words, to_html

#: The platforms served over HTTP, one origin each. LinkedIn is an export file, not a site.
SERVED_PLATFORMS: tuple[str, ...] = ("medium", "substack", "blog", "github")
#: Every platform the author publishes on.
PLATFORMS: tuple[str, ...] = (*SERVED_PLATFORMS, "linkedin")

_REF = re.compile(r"\{\{url:([a-z]+)(?:/([a-z0-9-]+))?\}\}")


@dataclass(frozen=True)
class Author:
    full_name: str
    first_name: str
    last_name: str
    headline: str
    bio: str
    location: str
    sign_off: str
    handles: Mapping[str, str]
    public_origins: Mapping[str, str]


@dataclass(frozen=True)
class Piece:
    """One article or post. ``markdown`` may hold ``{{url:...}}`` cross-links."""

    platform: str
    slug: str
    title: str
    subtitle: str
    published_at: datetime
    tags: tuple[str, ...]
    markdown: str
    medium_id: str | None = None

    @property
    def words(self) -> int:
        return plain_words(self.markdown)

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.slug)


@dataclass(frozen=True)
class Repository:
    owner: str
    name: str
    description: str
    topics: tuple[str, ...]
    stars: int
    forks: int
    default_branch: str
    committed_at: datetime
    commit_message: str
    commits: int
    language: str
    files: Mapping[str, bytes] = field(repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def sha(self) -> str:
        """A stable 40-hex commit id derived from the files (changes if any file changes)."""
        digest = hashlib.sha1(usedforsecurity=False)
        for path in sorted(self.files):
            digest.update(path.encode() + b"\0" + self.files[path] + b"\0")
        return digest.hexdigest()

    def text_files(self) -> list[str]:
        return [path for path, data in self.files.items() if b"\0" not in data]


@dataclass(frozen=True)
class Question:
    question: str
    relevant: tuple[str, ...]
    platform: str | None = None
    category: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class Corpus:
    author: Author
    substack: Mapping[str, str]
    blog: Mapping[str, str]
    repository: Repository
    pieces: tuple[Piece, ...]
    linkedin: Mapping[str, Any]
    questions: tuple[Question, ...]

    def pieces_for(self, platform: str) -> list[Piece]:
        """The platform's pieces, newest first (the order feeds and lists use)."""
        return sorted(
            (p for p in self.pieces if p.platform == platform), key=lambda p: p.published_at, reverse=True
        )

    def piece(self, platform: str, slug: str) -> Piece:
        for candidate in self.pieces:
            if candidate.platform == platform and candidate.slug == slug:
                return candidate
        raise KeyError(f"no {platform} piece {slug!r}")

    def path_of(self, piece: Piece) -> str:
        """The piece's path on its platform's site (the part after the origin)."""
        if piece.platform == "medium":
            return f"/@{self.author.handles['medium']}/{piece.slug}-{piece.medium_id}"
        if piece.platform == "substack":
            return f"/p/{piece.slug}"
        if piece.platform == "blog":
            return f"/posts/{piece.slug}/"
        raise ValueError(f"{piece.platform} has no article pages")

    @property
    def repository_path(self) -> str:
        return f"/{self.repository.full_name}"


@dataclass(frozen=True)
class Links:
    """Absolute URLs for a set of origins: the local servers, or the public platforms."""

    corpus: Corpus
    origins: Mapping[str, str]

    def origin(self, platform: str) -> str:
        return self.origins[platform].rstrip("/")

    def piece(self, piece: Piece) -> str:
        return self.origin(piece.platform) + self.corpus.path_of(piece)

    def repository(self) -> str:
        return self.origin("github") + self.corpus.repository_path

    def ref(self, platform: str, slug: str | None) -> str:
        if platform == "github" and not slug:
            return self.repository()
        if slug is None:
            return self.origin(platform) + "/"
        return self.piece(self.corpus.piece(platform, slug))

    def expand(self, text: str) -> str:
        """Resolve ``{{url:<platform>/<slug>}}`` cross-links."""
        return _REF.sub(lambda m: self.ref(m.group(1), m.group(2)), text)

    def html(self, piece: Piece, *, heading_ids: bool = False) -> str:
        return to_html(self.expand(piece.markdown), heading_ids=heading_ids)


def public_links(corpus: Corpus | None = None) -> Links:
    """Links as they would be on the real platforms (used by the LinkedIn export by default)."""
    corpus = corpus or load_corpus()
    return Links(corpus, corpus.author.public_origins)


def _data() -> Traversable:
    return resources.files("llm_twin.sample")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _walk(folder: Traversable, prefix: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name in {"__pycache__", ".pytest_cache", ".ruff_cache"}:
            continue
        name = "." + entry.name.removeprefix("dot.") if entry.name.startswith("dot.") else entry.name
        rel = f"{prefix}{name}"
        if entry.is_dir():
            files.update(_walk(entry, rel + "/"))
        else:
            files[rel] = entry.read_bytes()
    return files


@cache
def load_corpus() -> Corpus:
    """Read the corpus from the package data (once per process)."""
    root = _data()
    index = json.loads(root.joinpath("corpus.json").read_text(encoding="utf-8"))
    a = index["author"]
    author = Author(
        full_name=a["full_name"],
        first_name=a["first_name"],
        last_name=a["last_name"],
        headline=a["headline"],
        bio=a["bio"],
        location=a["location"],
        sign_off=a["sign_off"],
        handles=dict(a["handles"]),
        public_origins=dict(a["public_origins"]),
    )
    pieces = tuple(
        Piece(
            platform=p["platform"],
            slug=p["slug"],
            title=p["title"],
            subtitle=p["subtitle"],
            published_at=_parse_time(p["date"]),
            tags=tuple(p["tags"]),
            markdown=root.joinpath("pieces", p["platform"], f"{p['slug']}.md").read_text(encoding="utf-8"),
            medium_id=p.get("medium_id"),
        )
        for p in index["pieces"]
    )
    g = index["github"]
    repository = Repository(
        owner=g["owner"],
        name=g["repo"],
        description=g["description"],
        topics=tuple(g["topics"]),
        stars=g["stars"],
        forks=g["forks"],
        default_branch=g["default_branch"],
        committed_at=_parse_time(g["commit_date"]),
        commit_message=g["commit_message"],
        commits=g["commits"],
        language=g["language"],
        files=_walk(root.joinpath("github", g["repo"])),
    )
    questions = tuple(
        Question(
            question=q["question"],
            relevant=tuple(q["relevant"]),
            platform=q.get("platform"),
            category=q.get("category"),
            kind=q.get("kind"),
        )
        for q in (
            json.loads(line)
            for line in root.joinpath("questions.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
    )
    linkedin = json.loads(root.joinpath("linkedin", "export.json").read_text(encoding="utf-8"))
    return Corpus(
        author=author,
        substack=dict(index["substack"]),
        blog=dict(index["blog"]),
        repository=repository,
        pieces=pieces,
        linkedin=linkedin,
        questions=questions,
    )


def share_link(share_id: str) -> str:
    """A LinkedIn post's public URL, as the export writes it (URN percent-encoded)."""
    return f"https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A{share_id}"


def stable_number(seed: str, low: int, high: int) -> int:
    """A deterministic pseudo-random number (claps, likes...), so pages never change between requests."""
    value = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")
    return low + value % (high - low + 1)


def stable_hex(seed: str, length: int = 12) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]
