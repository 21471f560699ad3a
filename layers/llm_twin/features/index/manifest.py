"""The embedded index's "alias": a small JSON file naming the current generation and what each
generation was built with. Written atomically (temp file + fsync + rename), so a reader sees either
the old or the new manifest, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

FORMAT = 1


class GenerationMeta(BaseModel):
    model_name: str
    dimension: int
    created_at: str


class ManifestData(BaseModel):
    format: int = FORMAT
    index_name: str
    current: str | None = None
    generations: dict[str, GenerationMeta] = Field(default_factory=dict)


class Manifest:
    def __init__(self, path: Path, index_name: str) -> None:
        self.path = path
        self._index_name = index_name

    def read(self) -> ManifestData:
        """The manifest on disk, read on every call (< 1 KB: cheaper than any cache invalidation
        that must see another process's activate()); empty when there is none."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return ManifestData(index_name=self._index_name)
        return ManifestData.model_validate_json(raw)

    def write(self, data: ManifestData) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload: dict[str, Any] = data.model_dump(mode="json")
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
