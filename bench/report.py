"""Shared helpers of the benchmarks: writing a result section into docs/benchmarks.md."""

from __future__ import annotations

import time
from pathlib import Path


def write_section(path: Path, title: str, text: str, *, command: str) -> None:
    """Replace (or append) the ``## title`` section of a markdown file; ``command`` is the line that
    produced it, shown under the heading with the date."""
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    head = f"## {title}\n"
    start = 0 if current.startswith(head) else current.find(f"\n{head}")
    start = start if start <= 0 else start + 1  # the heading at the start of a line, not "### title"
    section = f"{head}\n_{time.strftime('%Y-%m-%d')}, `{command}`_\n\n{text}\n"
    if start < 0:
        updated = current.rstrip("\n") + "\n\n" + section
    else:
        end = current.find("\n## ", start + len(head))
        updated = current[:start] + section + ("\n" + current[end + 1 :] if end >= 0 else "")
    path.write_text(updated)
