"""The sample author's LinkedIn data export, built on the fly as LinkedIn ships it.

LinkedIn has no public feed to crawl: a member asks for a copy of their data and receives a zip
(``Basic_LinkedInDataExport_MM-DD-YYYY.zip``) of CSV files. ``Shares.csv`` holds the posts; it starts
with a UTF-8 byte order mark and its ``ShareCommentary`` cells span several lines. The zip also holds
files a posts importer must leave alone (``Profile.csv``, ``Connections.csv`` with its ``Notes:``
preamble, ``Comments.csv``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

from llm_twin.sample.corpus import Links, load_corpus, public_links, share_link

SHARES_COLUMNS: tuple[str, ...] = (
    "Date",
    "ShareLink",
    "ShareCommentary",
    "SharedUrl",
    "MediaUrl",
    "Visibility",
)
EXPORT_NAME = "Basic_LinkedInDataExport_02-09-2025.zip"
_ZIP_TIME = (2025, 2, 9, 10, 17, 42)
_CONNECTIONS_NOTE = (
    "When exporting your connection data, you may notice that some of the email addresses are missing. "
    "You will only see email addresses for connections who have allowed their connections to see or "
    "download their email address using this setting https://www.linkedin.com/psettings/privacy/email. "
    "You can learn more here https://www.linkedin.com/help/linkedin/answer/261"
)


def _csv(rows: list[list[str]] | list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)  # QUOTE_MINIMAL, "\r\n" between records
    return out.getvalue()


def _shared_url(links: Links, ref: str | None) -> str:
    if not ref:
        return ""
    platform, _, slug = ref.partition("/")
    return links.ref(platform, slug or None)


def linkedin_posts(links: Links | None = None) -> list[dict[str, str]]:
    """The posts of ``Shares.csv`` as dicts keyed by its columns, oldest first."""
    links = links or public_links()
    data: dict[str, Any] = dict(load_corpus().linkedin)
    return [
        {
            "Date": share["date"],
            "ShareLink": share_link(share["share_id"]),
            "ShareCommentary": share["commentary"],
            "SharedUrl": _shared_url(links, share.get("shared")),
            "MediaUrl": "",
            "Visibility": share["visibility"],
        }
        for share in data["shares"]
    ]


def linkedin_export_files(links: Links | None = None) -> dict[str, bytes]:
    """The files of the export zip, by name."""
    corpus = load_corpus()
    links = links or public_links(corpus)
    author = corpus.author
    shares = [SHARES_COLUMNS] + [tuple(post[c] for c in SHARES_COLUMNS) for post in linkedin_posts(links)]
    websites = ",".join(
        f"[OTHER:{url}]"
        for url in (links.origin("blog") + "/", links.origin("substack") + "/", links.repository())
    )
    profile = [
        [
            "First Name",
            "Last Name",
            "Maiden Name",
            "Address",
            "Birth Date",
            "Headline",
            "Summary",
            "Industry",
            "Zip Code",
            "Geo Location",
            "Twitter Handles",
            "Websites",
            "Instant Messengers",
        ],
        [
            author.first_name,
            author.last_name,
            "",
            "",
            "",
            author.headline,
            author.bio,
            "Utilities",
            "",
            author.location,
            "",
            websites,
            "",
        ],
    ]
    connections_header = [
        *("First Name", "Last Name", "URL", "Email Address"),
        *("Company", "Position", "Connected On"),
    ]
    connections = (
        "Notes:\r\n"
        + _csv([[_CONNECTIONS_NOTE]])
        + "\r\n"
        + _csv([connections_header, *corpus.linkedin["connections"]])
    )
    comments = [["Date", "Link", "Message"]] + [
        [c["date"], share_link(c["share_id"]), c["message"]] for c in corpus.linkedin["comments"]
    ]
    return {
        "Shares.csv": ("\ufeff" + _csv(shares)).encode("utf-8"),
        "Profile.csv": _csv(profile).encode("utf-8"),
        "Connections.csv": connections.encode("utf-8"),
        "Comments.csv": _csv(comments).encode("utf-8"),
    }


def linkedin_export_bytes(links: Links | None = None) -> bytes:
    """The export zip, byte-for-byte reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in linkedin_export_files(links).items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write_linkedin_export(path: str | Path, links: Links | None = None) -> Path:
    """Write the export zip and return its path.

    ``path`` is either the zip file to write (it ends in ``.zip``) or a folder, in which case the zip is
    written inside it under LinkedIn's own name. Shared URLs point at the public platforms unless
    ``links`` says otherwise (``SampleSite.write_linkedin_export`` points them at the local site).
    """
    target = Path(path)
    if target.suffix.lower() != ".zip":
        target = target / EXPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(linkedin_export_bytes(links))
    return target
