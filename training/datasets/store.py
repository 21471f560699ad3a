"""Writing and reading dataset versions, locally or in S3 (layout in :mod:`training.datasets.schema`).

``<root>/<kind>/<version>/{train,test}.jsonl, card.json, card.md`` and ``<root>/<kind>/LATEST``. The
version is the first 16 hex digits of SHA-256(train bytes + test bytes): the same rows always give the
same version, and the loader checks it, so a truncated or edited file is an error, not a silent change.

Locally a new version is written into a temporary sibling folder and renamed into place (a reader never
sees half a version); rewriting an existing version (same rows) replaces its cards file by file with
``os.replace``. ``LATEST`` is written last. In S3 every object PUT is atomic and ``LATEST`` goes last.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from llm_twin.errors import LlmTwinError
from training.datasets.card import render_card
from training.datasets.schema import (
    CARD_JSON,
    CARD_MD,
    KINDS,
    LATEST,
    SPLITS,
    DatasetCard,
    InstructionSample,
    Kind,
    PreferenceSample,
    split_file,
)

Row = InstructionSample | PreferenceSample
ROW_MODEL: dict[str, type[InstructionSample] | type[PreferenceSample]] = {
    "instruct": InstructionSample,
    "preference": PreferenceSample,
}
VERSION_HEX = 16


class DatasetError(LlmTwinError):
    """A dataset version is missing, corrupt or cannot be written."""


def encode_rows(rows: Sequence[Row]) -> bytes:
    """JSONL bytes: one compact JSON object per line, in the given order."""
    return b"".join(row.model_dump_json().encode() + b"\n" for row in rows)


def content_version(train: bytes, test: bytes) -> str:
    return hashlib.sha256(train + test).hexdigest()[:VERSION_HEX]


class Backend(Protocol):
    uri: str

    def read(self, key: str) -> bytes | None: ...

    def write_version(self, folder: str, files: Mapping[str, bytes]) -> None: ...

    def write(self, key: str, data: bytes) -> None: ...


class LocalBackend:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = str(root)

    def read(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def write_version(self, folder: str, files: Mapping[str, bytes]) -> None:
        target = self.root / folder
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            staging = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
            staging.mkdir()
            try:
                for name, data in files.items():
                    (staging / name).write_bytes(data)
                os.rename(staging, target)
                return
            except OSError:
                if not target.exists():
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        for name, data in files.items():  # the same version again (same rows): refresh file by file
            self.write(f"{folder}/{name}", data)


class S3Backend:
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from llm_twin.local.clients import aws_client
            from llm_twin.settings import get_settings

            self._client = aws_client("s3", get_settings())
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def read(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            raise DatasetError(f"cannot read {self.uri}/{key}: {exc}") from exc
        return response["Body"].read()

    def write(self, key: str, data: bytes) -> None:
        content_type = "application/json" if key.endswith((".json", ".jsonl")) else "text/plain"
        if key.endswith(".md"):
            content_type = "text/markdown"
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )
        except Exception as exc:
            raise DatasetError(f"cannot write {self.uri}/{key}: {exc}") from exc

    def write_version(self, folder: str, files: Mapping[str, bytes]) -> None:
        for name, data in files.items():
            self.write(f"{folder}/{name}", data)


def backend_for(root: str | Path, client: Any = None) -> Backend:
    """A local folder, or ``s3://bucket[/prefix]`` (``client``: a boto3 S3 client, default the shared one)."""
    text = str(root)
    if text.startswith("s3://"):
        bucket, _, prefix = text.removeprefix("s3://").partition("/")
        if not bucket:
            raise DatasetError(f"no bucket in {text}")
        return S3Backend(bucket, prefix, client)
    return LocalBackend(Path(root))


@dataclass(frozen=True)
class DatasetVersion:
    kind: Kind
    version: str
    uri: str
    card: DatasetCard
    train: list[Row]
    test: list[Row]

    def rows(self, split: str) -> list[Row]:
        return {"train": self.train, "test": self.test}[split]


def save_dataset_version(
    root: str | Path,
    kind: Kind,
    rows: Mapping[str, Sequence[Row]],
    card: DatasetCard,
    *,
    client: Any = None,
    latest: bool = True,
) -> DatasetVersion:
    """Write a version (its number computed from the rows, set on the card) and point LATEST at it."""
    if kind not in KINDS:
        raise DatasetError(f"unknown dataset kind {kind!r}")
    model = ROW_MODEL[kind]
    if any(not isinstance(row, model) for split in SPLITS for row in rows.get(split, ())):
        raise DatasetError(f"{kind} rows must be {model.__name__}")
    encoded = {split: encode_rows(list(rows.get(split, ()))) for split in SPLITS}
    version = content_version(encoded["train"], encoded["test"])
    card = card.model_copy(update={"version": version, "kind": kind})
    backend = backend_for(root, client)
    files = {split_file(split): encoded[split] for split in SPLITS}
    files[CARD_MD] = render_card(card).encode()
    files[CARD_JSON] = (card.model_dump_json(indent=2) + "\n").encode()  # last: a complete version has one
    backend.write_version(f"{kind}/{version}", files)
    if latest:
        backend.write(f"{kind}/{LATEST}", f"{version}\n".encode())
    return DatasetVersion(
        kind=kind,
        version=version,
        uri=f"{backend.uri.rstrip('/')}/{kind}/{version}",
        card=card,
        train=list(rows.get("train", ())),
        test=list(rows.get("test", ())),
    )


def latest_version(root: str | Path, kind: Kind, *, client: Any = None) -> str | None:
    data = backend_for(root, client).read(f"{kind}/{LATEST}")
    if data is None:
        return None
    return data.decode().strip() or None


def load_dataset_version(
    root: str | Path, kind: Kind, version: str | None = None, *, client: Any = None
) -> DatasetVersion:
    """Rows and card of ``version`` (default: LATEST), checked against the version hash."""
    if kind not in KINDS:
        raise DatasetError(f"unknown dataset kind {kind!r}")
    backend = backend_for(root, client)
    if version is None:
        version = latest_version(root, kind, client=client)
        if version is None:
            raise DatasetError(f"no {kind} dataset under {backend.uri} (no {kind}/{LATEST})")
    folder = f"{kind}/{version}"
    raw: dict[str, bytes] = {}
    for name in (split_file("train"), split_file("test"), CARD_JSON):
        data = backend.read(f"{folder}/{name}")
        if data is None:
            raise DatasetError(f"{backend.uri}/{folder}/{name} is missing")
        raw[name] = data
    actual = content_version(raw[split_file("train")], raw[split_file("test")])
    if actual != version:
        raise DatasetError(f"{backend.uri}/{folder}: the files hash to {actual}, not {version} (corrupt)")
    model = ROW_MODEL[kind]
    try:
        card = DatasetCard.model_validate_json(raw[CARD_JSON])
        splits = {
            split: [
                model.model_validate_json(line)
                for line in raw[split_file(split)].decode().splitlines()
                if line.strip()
            ]
            for split in SPLITS
        }
    except ValidationError as exc:
        raise DatasetError(f"{backend.uri}/{folder}: invalid rows or card: {exc}") from exc
    return DatasetVersion(
        kind=kind,
        version=version,
        uri=f"{backend.uri.rstrip('/')}/{folder}",
        card=card,
        train=splits["train"],
        test=splits["test"],
    )
