"""Dataset versions on disk and in S3: layout, content-hash versions, LATEST, integrity."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.datasets.factories import document
from training.datasets.build import instruction_row, provenance
from training.datasets.card import make_card
from training.datasets.extracts import Extract
from training.datasets.generation import GeneratedInstruction
from training.datasets.schema import PreferenceSample
from training.datasets.store import DatasetError, load_dataset_version, save_dataset_version


def rows(n: int, offset: int = 0) -> list:
    out = []
    for i in range(offset, offset + n):
        doc = document(f"d{i}", f"Answer number {i}.")
        item = GeneratedInstruction(Extract(doc, 0, f"Answer number {i}."), f"Write answer {i}.", "llm", 1)
        out.append(instruction_row(item, None))
    return out


def card(kind: str, split_rows: dict) -> object:
    return make_card(
        kind,  # type: ignore[arg-type]
        split_rows,
        version="",
        generator_model="scripted",
        source_documents=3,
        extracts=3,
        filters={"near_duplicate": 1},
        errors={"instruction.fallback": 2},
        split={"by": "document", "test_ratio": 0.2},
        parameters={"limit": None},
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_local_round_trip_layout_and_content_hash_version(tmp_path: Path) -> None:
    split_rows = {"train": rows(3), "test": rows(1, offset=3)}
    saved = save_dataset_version(tmp_path, "instruct", split_rows, card("instruct", split_rows))

    folder = tmp_path / "instruct" / saved.version
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "card.md", "test.jsonl", "train.jsonl"]
    train, test = (folder / "train.jsonl").read_bytes(), (folder / "test.jsonl").read_bytes()
    assert saved.version == hashlib.sha256(train + test).hexdigest()[:16]
    assert (tmp_path / "instruct" / "LATEST").read_text().strip() == saved.version
    assert len(train.splitlines()) == 3 and json.loads(train.splitlines()[0])["answer_source"] == "author"
    assert not [p for p in (tmp_path / "instruct").iterdir() if p.name.startswith(".")]  # no temp left

    loaded = load_dataset_version(tmp_path, "instruct")
    assert loaded.version == saved.version and loaded.uri == str(folder)
    assert loaded.train == split_rows["train"] and loaded.test == split_rows["test"]
    assert loaded.card.version == saved.version and loaded.card.counts == {"train": 3, "test": 1}
    assert "| train | 3 |" in (folder / "card.md").read_text()

    again = save_dataset_version(tmp_path, "instruct", split_rows, card("instruct", split_rows))
    assert again.version == saved.version  # same rows, same version, rewritten in place

    other_rows = {"train": rows(2), "test": []}
    newer = save_dataset_version(tmp_path, "instruct", other_rows, card("instruct", other_rows))
    assert newer.version != saved.version
    assert load_dataset_version(tmp_path, "instruct").version == newer.version  # LATEST moved
    assert load_dataset_version(tmp_path, "instruct", saved.version).train == split_rows["train"]


def test_loader_refuses_missing_and_corrupt_versions(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="LATEST"):
        load_dataset_version(tmp_path, "preference")
    split_rows = {"train": rows(2), "test": rows(1, offset=2)}
    saved = save_dataset_version(tmp_path, "instruct", split_rows, card("instruct", split_rows))
    train = tmp_path / "instruct" / saved.version / "train.jsonl"
    train.write_bytes(train.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="corrupt"):
        load_dataset_version(tmp_path, "instruct")
    with pytest.raises(DatasetError, match="missing"):
        load_dataset_version(tmp_path, "instruct", "0123456789abcdef")


def test_rows_must_match_the_kind(tmp_path: Path) -> None:
    split_rows = {"train": rows(1), "test": []}
    with pytest.raises(DatasetError, match="PreferenceSample"):
        save_dataset_version(tmp_path, "preference", split_rows, card("instruct", split_rows))
    assert not (tmp_path / "preference").exists()


def test_s3_round_trip_with_moto() -> None:
    doc = document("p0", "The author's text.")
    extract = Extract(doc, 0, "The author's text.")
    pair = PreferenceSample(
        id="x",
        prompt="Write it.",
        chosen="The author's text.",
        rejected="A draft.",
        provenance=provenance(extract),
    )
    split_rows = {"train": [pair], "test": []}
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        root = "s3://artifacts/datasets"
        saved = save_dataset_version(
            root, "preference", split_rows, card("preference", split_rows), client=s3
        )
        assert saved.uri == f"s3://artifacts/datasets/preference/{saved.version}"
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="artifacts")["Contents"])
        assert keys == [
            "datasets/preference/LATEST",
            *(
                f"datasets/preference/{saved.version}/{n}"
                for n in ("card.json", "card.md", "test.jsonl", "train.jsonl")
            ),
        ]
        loaded = load_dataset_version(root, "preference", client=s3)
        assert loaded.version == saved.version and loaded.train == [pair] and loaded.test == []
        assert loaded.card.errors == {"instruction.fallback": 2}
        with pytest.raises(DatasetError, match="LATEST"):
            load_dataset_version("s3://artifacts/elsewhere", "preference", client=s3)
