"""LinkedIn's official data export ("Get a copy of your data" zip) → posts and articles.

LinkedIn forbids crawling; the export is how an author's LinkedIn writing gets in. All or nothing:
a malformed archive raises ArchiveError and returns no partial result.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import posixpath
import re
import zipfile
from datetime import UTC, datetime

from llm_twin.crawling.encoding import decode_body
from llm_twin.crawling.extract import extract_article, parse_datetime
from llm_twin.crawling.markdown import truncate_utf8
from llm_twin.domain.models import Category, CrawledDocument, Platform
from llm_twin.errors import ArchiveError, CrawlError

MAX_ARCHIVE_BYTES = 500_000_000
MAX_ENTRIES = 20_000
MAX_SHARES_BYTES = 50_000_000
MAX_ARTICLE_BYTES = 5_000_000
MAX_ARTICLES = 2_000
MAX_RATIO = 200  # uncompressed / compressed: more is a zip bomb, not a CSV
TITLE_CHARS = 80
ARTICLE_CHROME = ("p.created", "p.published")  # "Created on ..." lines of exported articles
REQUIRED = ("date", "sharelink", "sharecommentary")
_ARTICLE_PATH = re.compile(r"(^|/)articles/(articles/)?[^/]+\.html?$", re.I)
_PUBLISHED = re.compile(r"Published on\s+(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)", re.I)
_PULSE_LINK = re.compile(r"""href=["'](https://[a-z.]*linkedin\.com/pulse/[^"'\s]+)["']""", re.I)


def _norm(column: str) -> str:
    return re.sub(r"[\s_]+", "", column.strip().lstrip("\ufeff").lower())


def _open_zip(source: str | os.PathLike[str] | bytes) -> zipfile.ZipFile:
    try:
        if isinstance(source, bytes | bytearray):
            if len(source) > MAX_ARCHIVE_BYTES:
                raise ArchiveError(f"the LinkedIn export is larger than {MAX_ARCHIVE_BYTES} bytes")
            return zipfile.ZipFile(io.BytesIO(source))
        if os.path.getsize(source) > MAX_ARCHIVE_BYTES:
            raise ArchiveError(f"the LinkedIn export is larger than {MAX_ARCHIVE_BYTES} bytes")
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ArchiveError(f"the LinkedIn export is not a readable zip archive: {exc}") from exc
    except OSError as exc:
        raise ArchiveError(f"cannot open the LinkedIn export: {exc}") from exc


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    if info.file_size > cap:
        raise ArchiveError(f"{info.filename} is larger than {cap} bytes")
    if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise ArchiveError(f"{info.filename} decompresses {info.file_size // max(info.compress_size, 1)}x: "
                           "refusing a zip bomb")  # fmt: skip
    try:
        with archive.open(info) as handle:
            data = handle.read(cap + 1)
    except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, ValueError, OSError) as exc:
        raise ArchiveError(f"cannot read {info.filename} from the LinkedIn export: {exc}") from exc
    if len(data) > cap:
        raise ArchiveError(f"{info.filename} is larger than {cap} bytes")
    return data


def _members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ArchiveError(f"the LinkedIn export has more than {MAX_ENTRIES} entries")
    return [i for i in infos if not i.is_dir() and not i.filename.startswith("__MACOSX/")]


def _title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "LinkedIn post")
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "…"


def _rows(text: str) -> tuple[dict[str, int], list[list[str]]]:
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ArchiveError(f"Shares.csv is not valid CSV: {exc}") from exc
    for index, row in enumerate(rows[:10]):  # some exports put notes above the header
        columns = {_norm(name): i for i, name in reversed(list(enumerate(row)))}
        if all(name in columns for name in REQUIRED):
            return columns, rows[index + 1 :]
    header = ", ".join(rows[0]) if rows else "nothing"
    raise ArchiveError(
        f"Shares.csv lacks the columns Date, ShareLink and ShareCommentary (its first row: {header[:200]})"
    )


def _share_documents(text: str, author_name: str, max_bytes: int) -> list[CrawledDocument]:
    columns, rows = _rows(text)

    def cell(row: list[str], name: str) -> str:
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    documents: dict[str, CrawledDocument] = {}
    for row in rows:
        commentary = cell(row, "sharecommentary")
        if not commentary:
            continue  # a plain re-share: no words of the author
        date = cell(row, "date")
        digest = hashlib.sha256(f"{date}\n{commentary}".encode()).hexdigest()[:24]
        link = cell(row, "sharelink") or f"linkedin:share:{digest}"
        content, truncated = truncate_utf8(commentary.replace("\r\n", "\n"), max_bytes)
        metadata = {"author": author_name, "source": "linkedin-export"}
        for key, column in (
            ("visibility", "visibility"),
            ("shared_url", "sharedurl"),
            ("media_url", "mediaurl"),
        ):
            if cell(row, column):
                metadata[key] = cell(row, column)
        if truncated:
            metadata["truncated"] = "true"
        documents[link] = CrawledDocument(
            platform=Platform.LINKEDIN,
            category=Category.POST,
            link=link,
            title=_title(commentary),
            content=content,
            published_at=parse_datetime(date),
            metadata=metadata,
        )
    return list(documents.values())


def _article_document(name: str, html: str, author_name: str, max_bytes: int) -> CrawledDocument | None:
    pulse = _PULSE_LINK.search(html)
    link = pulse.group(1) if pulse else f"linkedin:article:{hashlib.sha256(name.encode()).hexdigest()[:24]}"
    try:
        extracted = extract_article(
            html,
            url=link if pulse else "https://www.linkedin.com/",
            max_bytes=max_bytes,
            drop_selectors=ARTICLE_CHROME,
        )
    except CrawlError:
        return None  # an empty draft
    published = _PUBLISHED.search(html)
    metadata = {"author": author_name, "source": "linkedin-export", "file": posixpath.basename(name)}
    if extracted.truncated:
        metadata["truncated"] = "true"
    published_at = parse_datetime(published.group(1)) if published else extracted.published_at
    return CrawledDocument(
        platform=Platform.LINKEDIN,
        category=Category.ARTICLE,
        link=link,
        title=extracted.title,
        subtitle=extracted.subtitle,
        content=extracted.markdown,
        published_at=published_at.astimezone(UTC) if isinstance(published_at, datetime) else None,
        metadata=metadata,
    )


def parse_linkedin_export(
    source: str | os.PathLike[str] | bytes, author_name: str, *, max_document_bytes: int = 300_000
) -> list[CrawledDocument]:
    """Posts (``Shares.csv``) and articles (``Articles/Articles/*.html``) of a LinkedIn export zip."""
    with _open_zip(source) as archive:
        members = _members(archive)
        shares = [m for m in members if posixpath.basename(m.filename).lower() == "shares.csv"]
        if not shares:
            raise ArchiveError("the LinkedIn export has no Shares.csv (request your posts in the export)")
        share_file = min(shares, key=lambda m: m.filename.count("/"))
        text = decode_body(_read(archive, share_file, MAX_SHARES_BYTES), "text/csv")
        documents = _share_documents(text, author_name, max_document_bytes)
        if not documents:
            raise ArchiveError("Shares.csv holds no post with text")
        articles = [m for m in members if _ARTICLE_PATH.search(m.filename)][:MAX_ARTICLES]
        for member in articles:
            html = decode_body(_read(archive, member, MAX_ARTICLE_BYTES), "text/html")
            article = _article_document(member.filename, html, author_name, max_document_bytes)
            if article is not None:
                documents.append(article)
    return documents
