from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from llm_twin.domain.models import Category, CrawledDocument, Platform
from llm_twin.local.aws import LocalAws, local_aws
from llm_twin.local.clients import aws_client, clear_clients
from llm_twin.local.streams import StreamCursor, read_records
from llm_twin.settings import Settings
from llm_twin.warehouse.errors import SnapshotFormatError

AUTHOR = ("maya-lindqvist", "Maya Lindqvist")


def _doc(n: int, content: str = "body") -> CrawledDocument:
    return CrawledDocument(
        platform=Platform.BLOG,
        category=Category.ARTICLE,
        link=f"https://blog.example/{n}",
        title=str(n),
        content=content,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_points_the_process_at_moto_and_restores_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "real-account")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "https://elsewhere.example")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", raising=False)
    before = dict(os.environ)

    with local_aws(Settings(home=home, region="eu-west-1", table_name="twin")) as local:
        assert local.settings.aws_endpoint_url == local.endpoint_url
        assert local.endpoint_url.startswith("http://127.0.0.1:")
        assert local.settings.region == "eu-west-1"
        assert os.environ["AWS_ENDPOINT_URL"] == local.endpoint_url
        assert os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] == "disabled"
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
        assert os.environ["LLM_TWIN_AWS_ENDPOINT_URL"] == local.endpoint_url
        assert os.environ["LLM_TWIN_HOME"] == str(home.resolve())
        assert LocalAws.active() is local
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ
        assert Settings().aws_endpoint_url == local.endpoint_url  # a handler building its own settings
        plain = boto3.client("dynamodb")  # no endpoint given: the environment leads it to moto
        assert plain.list_tables()["TableNames"] == ["twin"]
        assert local.startup_seconds > 0

    assert dict(os.environ) == before
    assert LocalAws.active() is None
    with pytest.raises(RuntimeError):
        _ = local.settings


def test_one_at_a_time(home: Path) -> None:
    with LocalAws(Settings(home=home)), pytest.raises(RuntimeError, match="already running"):
        LocalAws(Settings(home=home)).start()
    with LocalAws(Settings(home=home)) as again:  # free again after exit
        assert again.warehouse().list_authors() == []


def test_each_start_is_a_fresh_moto(home: Path) -> None:
    with LocalAws(Settings(home=home)) as local:
        local.warehouse().upsert_author("Maya Lindqvist")
    with LocalAws(Settings(home=home)) as local:  # nothing saved: nothing restored
        assert local.restored == 0
        assert local.warehouse().list_authors() == []


def test_snapshot_round_trip_and_restore_emits_no_stream_records(home: Path) -> None:
    with LocalAws(Settings(home=home)) as local:
        warehouse = local.warehouse()
        warehouse.upsert_author(AUTHOR[1], ["https://blog.example"])
        for n in range(3):
            warehouse.upsert_document(*AUTHOR, _doc(n))
        documents = warehouse.list_documents()
        assert local.save_snapshot() == 4
    snapshot = home / "warehouse.jsonl"
    assert snapshot.exists()
    assert [p.name for p in home.iterdir()] == ["warehouse.jsonl"]

    with LocalAws(Settings(home=home)) as local:
        assert local.restored == 4
        warehouse = local.warehouse()
        assert warehouse.list_documents() == documents
        assert warehouse.upsert_document(*AUTHOR, _doc(0)) == "unchanged"
        assert warehouse.upsert_document(*AUTHOR, _doc(7)) == "new"

        assert local.restore_cursor is not None
        records, cursor = read_records(local.settings, local.restore_cursor)
        assert [(r["eventName"], r["dynamodb"]["NewImage"]["title"]["S"]) for r in records] == [
            ("MODIFY", "0"),
            ("INSERT", "7"),
        ]
        # from the very start of the stream too: the restore itself left nothing to re-index
        everything, _ = read_records(local.settings, StreamCursor(local.restore_cursor.stream_arn))
        assert len(everything) == 2

        assert read_records(local.settings, cursor)[0] == []
        assert local.latest_cursor() == cursor
        warehouse.delete_document(AUTHOR[0], documents[0].document_id)
        later, _ = read_records(local.settings, local.latest_cursor())
        assert later == []
        after, _ = read_records(local.settings, cursor)
        assert [r["eventName"] for r in after] == ["REMOVE"]


def test_restore_can_be_skipped(home: Path) -> None:
    with LocalAws(Settings(home=home)) as local:
        local.warehouse().upsert_author(AUTHOR[1])
        local.save_snapshot()
    with LocalAws(Settings(home=home), restore=False) as local:
        assert local.warehouse().list_authors() == []


def test_a_bad_snapshot_fails_start_and_leaves_nothing_running(home: Path) -> None:
    home.mkdir()
    (home / "warehouse.jsonl").write_text('{"item_type": "author"\n')
    before = dict(os.environ)
    with pytest.raises(SnapshotFormatError, match="line 1"):
        LocalAws(Settings(home=home)).start()
    assert dict(os.environ) == before
    (home / "warehouse.jsonl").unlink()
    with LocalAws(Settings(home=home)) as local:
        assert local.restored == 0


def test_stream_cursor_is_plain_data() -> None:
    cursor = StreamCursor("arn:stream").advanced("shard-1", "100").advanced("shard-1", "105")
    assert cursor.positions == {"shard-1": "105"}
    assert StreamCursor.from_dict(cursor.to_dict()) == cursor
    assert cursor.iterator_request("shard-1") == {
        "StreamArn": "arn:stream",
        "ShardId": "shard-1",
        "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
        "SequenceNumber": "105",
    }
    assert cursor.iterator_request("shard-2")["ShardIteratorType"] == "TRIM_HORIZON"


def test_aws_client_uses_the_settings_endpoint_and_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    clear_clients()
    settings = Settings(aws_endpoint_url="http://127.0.0.1:9", region="eu-central-1")
    client = aws_client("s3", settings)
    assert client is aws_client("s3", settings)
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.config.retries["mode"] == "standard"
    on_aws = aws_client("dynamodb", Settings(aws_endpoint_url=None, region="eu-central-1"))
    assert on_aws.meta.endpoint_url.startswith("https://dynamodb.eu-central-1.amazonaws.com")


def test_importing_the_library_starts_nothing() -> None:
    code = (
        "import sys, llm_twin.local.aws, llm_twin.local.streams, llm_twin.warehouse.transfer;"
        "assert 'moto' not in sys.modules, 'moto imported';"
        "from llm_twin.local import clients; assert clients._clients == {}"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
