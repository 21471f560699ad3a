"""Deterministic identifiers: the same input always yields the same key."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit


def author_id(full_name: str) -> str:
    """Slug of the author's full name: ``"Maya Lindqvist" -> "maya-lindqvist"``."""
    text = unicodedata.normalize("NFKD", full_name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if not slug:
        raise ValueError(f"author name {full_name!r} has no letters or digits")
    return slug


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment and a trailing slash; keep the query."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def document_id(author: str, link: str) -> str:
    """One document per (author id, canonical link)."""
    digest = hashlib.sha256(f"{author}\n{canonical_url(link)}".encode()).hexdigest()
    return digest[:32]


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()
