"""The LinkedIn data export zip."""

from __future__ import annotations

import csv
import io
import zipfile

from llm_twin.sample import SampleSite, linkedin_export_bytes, write_linkedin_export
from llm_twin.sample.linkedin import EXPORT_NAME, SHARES_COLUMNS


def _shares(raw: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_written_to_a_file_or_a_folder(tmp_path):
    as_file = write_linkedin_export(tmp_path / "export.zip")
    assert as_file == tmp_path / "export.zip"
    in_folder = write_linkedin_export(tmp_path / "downloads")
    assert in_folder == tmp_path / "downloads" / EXPORT_NAME
    assert as_file.read_bytes() == in_folder.read_bytes() == linkedin_export_bytes()


def test_shares_csv(tmp_path):
    with zipfile.ZipFile(write_linkedin_export(tmp_path)) as archive:
        assert set(archive.namelist()) == {"Shares.csv", "Profile.csv", "Connections.csv", "Comments.csv"}
        raw = archive.read("Shares.csv")
        connections = archive.read("Connections.csv").decode("utf-8")
        profile = archive.read("Profile.csv").decode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw[3:].split(b"\r\n", 1)[0] == b"Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility"
    rows = _shares(raw)
    assert list(rows[0]) == list(SHARES_COLUMNS)
    assert 10 <= len(rows) <= 12
    multiline = [r for r in rows if "\n" in r["ShareCommentary"]]
    assert len(multiline) == len(rows)
    assert any('"' in r["ShareCommentary"] and "," in r["ShareCommentary"] for r in rows)
    assert b'"""What chunk size are we using, and why?""' in raw  # quotes doubled inside a quoted cell
    for row in rows:
        assert row["ShareLink"].startswith("https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A")
        assert row["Visibility"] in {"MEMBER_NETWORK", "CONNECTIONS_ONLY"}
        assert len(row["ShareCommentary"].split()) >= 20
    assert sum(bool(r["SharedUrl"]) for r in rows) >= 8
    assert connections.startswith("Notes:\r\n")
    assert "First Name,Last Name,URL,Email Address,Company,Position,Connected On" in connections
    assert profile.startswith("First Name,Last Name,Maiden Name,Address,Birth Date,Headline")


def test_share_ids_encode_the_post_time():
    from datetime import UTC, datetime

    for row in _shares(zipfile.ZipFile(io.BytesIO(linkedin_export_bytes())).read("Shares.csv")):
        share_id = int(row["ShareLink"].rsplit("%3A", 1)[1])
        posted = datetime.fromtimestamp((share_id >> 22) / 1000, tz=UTC)
        assert posted.strftime("%Y-%m-%d %H:%M:%S") == row["Date"]


def test_site_export_points_at_the_local_site(site: SampleSite, tmp_path):
    rows = _shares(zipfile.ZipFile(site.write_linkedin_export(tmp_path)).read("Shares.csv"))
    shared = {r["SharedUrl"] for r in rows if r["SharedUrl"]}
    assert shared <= set(site.document_urls())
    public = {
        r["SharedUrl"]
        for r in _shares(zipfile.ZipFile(io.BytesIO(linkedin_export_bytes())).read("Shares.csv"))
    }
    assert "https://medium.com/@nellharrowgate/chunking-is-a-product-decision-7c1e9a4b2d3f" in public
