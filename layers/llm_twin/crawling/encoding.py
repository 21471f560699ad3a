"""Decode a response body: BOM → header charset → <meta>/XML declaration → UTF-8 → detection.

Never raises on undecodable bytes (``errors="replace"``).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{1,40})""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([a-zA-Z0-9_.:-]{1,40})["']""", re.I)
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{1,40})""", re.I)
# WHATWG: browsers decode these labels as windows-1252 (a superset), so do we.
_ALIASES = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
            "us-ascii": "cp1252", "ascii": "cp1252", "x-sjis": "shift_jis"}  # fmt: skip
_SNIFF_BYTES = 4096
_DETECT_BYTES = 200_000


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # A page cannot declare UTF-16 in an ASCII-compatible <meta>; UTF-16 without a BOM is unlikely.
    return "utf-8" if name.startswith("utf-16") or name.startswith("utf-32") else name


def charset_from_content_type(content_type: str | None) -> str | None:
    match = _CHARSET_PARAM.search(content_type or "")
    return match.group(1) if match else None


def declared_in_document(content: bytes) -> str | None:
    head = content[:_SNIFF_BYTES]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        match = pattern.search(head)
        if match:
            codec = _codec(match.group(1).decode("ascii", "replace"))
            if codec:
                return codec
    return None


def detect_encoding(content: bytes, content_type: str | None = None) -> str:
    """The codec to decode ``content`` with (always a valid Python codec name)."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return "utf-8-sig" if name == "utf-8" else name
    declared = _codec(charset_from_content_type(content_type)) or declared_in_document(content)
    if declared:
        return declared
    try:
        content.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(content[:_DETECT_BYTES]).best()
    return _codec(best.encoding if best else None) or "utf-8"


def decode_body(content: bytes, content_type: str | None = None) -> str:
    return content.decode(detect_encoding(content, content_type), errors="replace")
