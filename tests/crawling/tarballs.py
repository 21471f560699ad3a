"""Build repository tarballs in memory for the GitHub tests."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable


def entry(name: str, data: bytes | str = b"", *, kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    return (name, data.encode() if isinstance(data, str) else data, kind, link)


def build(entries: Iterable[tuple], *, root: str | None = "tools-HEAD", gzip: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gzip else "w") as tar:
        if root:
            info = tarfile.TarInfo(root)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data, kind, link in entries:
            info = tarfile.TarInfo(f"{root}/{name}" if root and not name.startswith(("/", "..")) else name)
            info.type = kind
            info.linkname = link
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue()
