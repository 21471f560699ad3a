"""Pages of a run's report (``GET /collections/{run_id}?limit=&cursor=``) and their opaque cursors.

A cursor is url-safe base64 (no padding) of ``{"v": 1, "run": <run_id>, "after": <link index>}``: where
the previous page ended, in that run. Clients pass it back untouched. It is not signed (it only says where
to continue in a run the caller may read anyway) but checked: a cursor that does not decode, is of another
version or another run, or names an index outside ``0..MAX_LINK_INDEX`` is an InvalidCursorError (400).
"""

from __future__ import annotations

import base64
import binascii
import json

from llm_twin.errors import InvalidInputError
from llm_twin.warehouse.records import MAX_LINK_INDEX

DEFAULT_PAGE_LINKS = 500
MAX_PAGE_LINKS = 1000
MAX_CURSOR_CHARS = 200  # a cursor of the longest run id (80) is ~130
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
_VERSION = 1


class InvalidCursorError(InvalidInputError):
    """A ``cursor`` this API did not hand out for this run (the API answers 400)."""


def encode_cursor(run_id: str, after: int) -> str:
    """The cursor of the page that follows link index ``after`` of ``run_id``."""
    document = json.dumps({"v": _VERSION, "run": run_id, "after": after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def decode_cursor(run_id: str, cursor: str) -> int:
    """The link index a cursor of ``run_id`` continues after; InvalidCursorError if it is not one."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        document = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursorError("invalid cursor: pass back a next_cursor as the API returned it") from exc
    if not isinstance(document, dict) or set(document) != {"v", "run", "after"} or document["v"] != _VERSION:
        raise InvalidCursorError("invalid cursor: pass back a next_cursor as the API returned it")
    if document["run"] != run_id:
        raise InvalidCursorError("invalid cursor: it belongs to another run")
    after = document["after"]
    if type(after) is not int or not 0 <= after <= MAX_LINK_INDEX:
        raise InvalidCursorError("invalid cursor: pass back a next_cursor as the API returned it")
    return after
