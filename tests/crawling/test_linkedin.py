"""LinkedIn's data export: posts from Shares.csv (and articles), all or nothing."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llm_twin.crawling import linkedin
from llm_twin.crawling.linkedin import parse_linkedin_export
from llm_twin.domain.models import Category, Platform
from llm_twin.errors import ArchiveError

HEADER = "Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\r\n"
MULTI = 'Three things I learned shipping a 135M model:\n\n1. Quantise early\n2. Measure, "always"\n3. Ship'
QUOTED = MULTI.replace('"', '""')
SHARES = (
    HEADER + f'2024-03-01 10:12:13,https://www.linkedin.com/feed/update/urn:li:share:1,"{QUOTED}",,,'
    "MEMBER_NETWORK\r\n"
    + "2024-02-01 08:00:00,https://www.linkedin.com/feed/update/urn:li:share:2,,https://example.com/shared,,"
    "PUBLIC\r\n" + '2024-01-15 09:30:00,,"A post without a link, but with words",,,PUBLIC\r\n'
)
ARTICLE = """<html><head><title>On small models</title></head><body>
<h1><a href="https://www.linkedin.com/pulse/on-small-models-maya-lindqvist">On small models</a></h1>
<p class="created">Created on 2023-11-02 18:04</p><p class="published">Published on 2023-11-03 09:15</p>
<div><p>Long-form thoughts about <strong>tiny</strong> language models.</p></div></body></html>"""


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_good_export_with_bom_and_multiline_posts() -> None:
    data = make_zip({"Shares.csv": "\ufeff" + SHARES, "Profile.csv": "First Name\nMaya\n"})
    docs = parse_linkedin_export(data, "Maya Lindqvist")
    assert len(docs) == 2  # the re-share without commentary is skipped
    first, second = docs
    assert (first.platform, first.category) == (Platform.LINKEDIN, Category.POST)
    assert first.content == MULTI
    assert first.title == "Three things I learned shipping a 135M model:"
    assert first.link == "https://www.linkedin.com/feed/update/urn:li:share:1"
    assert first.published_at == datetime(2024, 3, 1, 10, 12, 13, tzinfo=UTC)
    assert first.metadata["visibility"] == "MEMBER_NETWORK" and first.metadata["author"] == "Maya Lindqvist"
    assert second.link.startswith("linkedin:share:") and len(second.link) > len("linkedin:share:") + 10
    assert parse_linkedin_export(data, "Maya Lindqvist")[1].link == second.link  # stable


def test_nested_folder_lenient_columns_and_articles(tmp_path: Path) -> None:
    shares = (
        " date ,Share Link,share_commentary,Visibility\n"
        '2024-05-05 12:00:00,https://www.linkedin.com/feed/update/urn:li:share:9,"'
        + "Long title " * 20
        + '",PUBLIC\n'
    )
    data = make_zip({
        "Basic_LinkedInDataExport_05-05-2024/Shares.csv": shares,
        "Basic_LinkedInDataExport_05-05-2024/Articles/Articles/On small models.html": ARTICLE,
        "__MACOSX/Basic_LinkedInDataExport_05-05-2024/._Shares.csv": b"\x00\x05junk",
    })  # fmt: skip
    path = tmp_path / "export.zip"
    path.write_bytes(data)
    docs = parse_linkedin_export(path, "Maya Lindqvist")
    post, article = docs
    assert len(post.title) <= 80 and post.title.endswith("…")
    assert (article.category, article.title) == (Category.ARTICLE, "On small models")
    assert article.link == "https://www.linkedin.com/pulse/on-small-models-maya-lindqvist"
    assert article.content == "Long-form thoughts about **tiny** language models.\n"
    assert article.published_at == datetime(2023, 11, 3, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 definitely not a zip", "not a readable zip"),
        (b"", "not a readable zip"),
        (make_zip({"Profile.csv": "First Name\nMaya\n"}), "no Shares.csv"),
        (make_zip({"Shares.csv": "When,Url,Text\n2024-01-01,https://x,hello\n"}), "lacks the columns"),
        (make_zip({"Shares.csv": ""}), "lacks the columns"),
        (make_zip({"Shares.csv": HEADER}), "no post"),
        (make_zip({"Shares.csv": HEADER + "2024-01-01,https://x,,,,PUBLIC\n"}), "no post"),
    ],
)
def test_malformed_exports_raise_archive_error(data: bytes, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        parse_linkedin_export(data, "Maya")


def test_zip_bomb_is_refused_before_reading() -> None:
    bomb = make_zip({"Shares.csv": HEADER + "2024-01-01,https://x," + "a" * 3_000_000 + ",,,PUBLIC\n"})
    assert len(bomb) < 50_000
    with pytest.raises(ArchiveError, match="zip bomb"):
        parse_linkedin_export(bomb, "Maya")


def test_oversized_member_means_nothing_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linkedin, "MAX_ARTICLE_BYTES", 100)
    data = make_zip({"Shares.csv": SHARES, "Articles/Articles/a.html": ARTICLE})
    with pytest.raises(ArchiveError, match="larger than 100 bytes"):
        parse_linkedin_export(data, "Maya")


def test_missing_file_path_is_an_archive_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="cannot open"):
        parse_linkedin_export(tmp_path / "nope.zip", "Maya")
