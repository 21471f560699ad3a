"""Readable-content extraction: HTML page → title, subtitle, markdown body, published date."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from bs4 import BeautifulSoup, NavigableString, Tag

from llm_twin.crawling.boilerplate import main_content, remove_boilerplate, remove_junk
from llm_twin.crawling.markdown import to_markdown, truncate_utf8
from llm_twin.errors import CrawlError

MAX_DEPTH = 100  # deeper elements are unwrapped: markdownify recurses once per level
MAX_TITLE_CHARS = 300
MAX_HREF_CHARS = 2048
_SPACES = re.compile(r"\s+")
_JSON_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{6,40})"')
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+xml")


@dataclass(frozen=True)
class Extracted:
    title: str
    subtitle: str | None
    markdown: str
    published_at: datetime | None
    truncated: bool


def clean_text(text: str | None, limit: int = MAX_TITLE_CHARS) -> str | None:
    value = _SPACES.sub(" ", text or "").strip()
    return value[:limit] or None


def parse_datetime(value: str | None) -> datetime | None:
    """ISO 8601 or RFC 2822 (feeds) → aware datetime (naive values are taken as UTC); else None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def flatten_deep(soup: BeautifulSoup, max_depth: int = MAX_DEPTH) -> int:
    """Replace the content of elements at ``max_depth`` by their plain text; returns how many were cut.

    Markdown conversion recurses once per level, so hostile nesting (20k divs) must not reach it.
    """
    boundary: list[Tag] = []
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        for child in node.children:
            if isinstance(child, Tag):
                if depth + 1 >= max_depth:
                    boundary.append(child)
                else:
                    stack.append((child, depth + 1))
    for tag in boundary:
        if any(isinstance(child, Tag) for child in tag.children):
            text = tag.get_text("\n")
            tag.clear(decompose=True)
            tag.append(NavigableString(text))
    return len(boundary)


def parse_html(html: str) -> BeautifulSoup:
    """Parse hostile HTML safely: NUL bytes dropped, excessive nesting flattened."""
    try:
        soup = BeautifulSoup(html.replace("\x00", ""), "lxml")
        flatten_deep(soup)
    except RecursionError as exc:  # pragma: no cover - the parser and the flattening are iterative
        raise CrawlError("the page is nested too deeply to be parsed") from exc
    return soup


def meta_values(soup: BeautifulSoup) -> dict[str, str]:
    """``<meta property|name|itemprop=... content=...>`` as a dict (lower-case keys, first one wins)."""
    values: dict[str, str] = {}
    for meta in soup.find_all("meta"):
        content = meta.get("content")
        if not isinstance(content, str):
            continue
        for attr in ("property", "name", "itemprop"):
            key = meta.get(attr)
            if isinstance(key, str) and key.strip():
                values.setdefault(key.strip().lower(), content.strip())
    return values


def feed_links(soup: BeautifulSoup, base_url: str) -> list[str]:
    """RSS/Atom feeds the page advertises with ``<link rel="alternate" type="application/rss+xml">``."""
    links = []
    for link in soup.find_all("link", href=True):
        rel = link.get("rel") or []
        rels = [rel] if isinstance(rel, str) else rel
        kind = str(link.get("type") or "").lower().strip()
        if "alternate" in [r.lower() for r in rels] and kind in _FEED_TYPES:
            links.append(urljoin(base_url, str(link["href"]).strip()))
    return links


def _first_text(soup: BeautifulSoup, selectors: Sequence[str]) -> str | None:
    for selector in selectors:
        found = soup.select_one(selector)
        if found is not None:
            text = clean_text(found.get_text(" ", strip=True))
            if text:
                return text
    return None


def _published(soup: BeautifulSoup, meta: dict[str, str], html: str) -> datetime | None:
    for key in ("article:published_time", "og:published_time", "datepublished", "date", "pubdate",
                "publish-date", "dc.date"):  # fmt: skip
        parsed = parse_datetime(meta.get(key))
        if parsed:
            return parsed
    time_tag = soup.find("time", datetime=True)
    if isinstance(time_tag, Tag):
        parsed = parse_datetime(str(time_tag["datetime"]))
        if parsed:
            return parsed
    match = _JSON_LD_DATE.search(html[:500_000])
    return parse_datetime(match.group(1)) if match else None


def _absolutize_links(root: Tag, base_url: str) -> None:
    for anchor in root.find_all("a", href=True):
        href = str(anchor["href"]).strip()
        if len(href) > MAX_HREF_CHARS or href.lower().startswith(("javascript:", "data:", "vbscript:")):
            del anchor["href"]
        elif not href.startswith("#"):
            anchor["href"] = urljoin(base_url, href)


def extract_article(
    html: str,
    *,
    url: str,
    max_bytes: int,
    content_selectors: Sequence[str] = (),
    title_selectors: Sequence[str] = (),
    subtitle_selectors: Sequence[str] = (),
    drop_selectors: Sequence[str] = (),
) -> Extracted:
    """Extract the readable content of ``html`` (fetched from ``url``) as markdown.

    ``*_selectors`` are CSS selectors a crawler knows for its platform (tried before the generic
    rules); ``drop_selectors`` name platform boilerplate. Raises CrawlError when no text is left.
    """
    soup = parse_html(html)
    meta = meta_values(soup)
    h1 = soup.find("h1")
    title = (
        _first_text(soup, title_selectors)
        or clean_text(meta.get("og:title"))
        or clean_text(h1.get_text(" ", strip=True) if h1 else None)
        or clean_text(soup.title.get_text() if soup.title else None)
        or url
    )
    subtitle = (
        _first_text(soup, subtitle_selectors)
        or clean_text(meta.get("description"), 1000)
        or clean_text(meta.get("og:description"), 1000)
    )
    published = _published(soup, meta, html)
    remove_junk(soup)
    for selector in drop_selectors:
        for node in soup.select(selector):
            node.decompose()
    remove_boilerplate(soup)
    root = main_content(soup, content_selectors)
    for selector in subtitle_selectors:  # before the h1 goes: selectors such as "h1 + h2" need it
        for node in root.select(selector):
            node.decompose()
    for heading in root.find_all("h1"):
        if clean_text(heading.get_text(" ", strip=True)) == title:
            heading.decompose()
    _absolutize_links(root, url)
    try:
        markdown = to_markdown(root)
    except RecursionError as exc:
        raise CrawlError(f"the page {url} is nested too deeply to convert to markdown") from exc
    if not markdown.strip():
        raise CrawlError(f"no readable content found at {url}")
    markdown, truncated = truncate_utf8(markdown, max_bytes)
    return Extracted(title, subtitle, markdown, published, truncated)
