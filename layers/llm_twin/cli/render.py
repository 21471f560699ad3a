"""Plain-text rendering of CLI results (``--json`` prints the models instead)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from llm_twin.collection.events import RunSummary


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    print(json.dumps(value, indent=2, ensure_ascii=False))


def table(rows: Iterable[Sequence[object]], headers: Sequence[str]) -> str:
    cells = [[str(c) for c in headers], *([("" if c is None else str(c)) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def run_summary(summary: RunSummary) -> str:
    c = summary.counts
    head = (
        f"run {summary.run_id}: {summary.status} — {len(summary.links)} links "
        f"({c.get('ok', 0)} ok, {c.get('unchanged', 0)} unchanged, {c.get('failed', 0)} failed); "
        f"documents {c.get('documents_new', 0)} new, {c.get('documents_updated', 0)} updated, "
        f"{c.get('documents_unchanged', 0)} unchanged"
    )
    rows = [
        (link.status, link.crawler or "-", link.new, link.updated, link.unchanged, link.link, link.reason)
        for link in summary.links
    ]
    return head + "\n" + table(rows, ["status", "crawler", "new", "upd", "same", "link", "reason"])
