"""The feature pipeline end to end: warehouse writes on moto's DynamoDB → its stream → the local
poller → the real feature handler (lambdas/feature_indexer) → chunks and vectors in the embedded index."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.cli.collect import collect
from llm_twin.cli.session import LocalSession
from llm_twin.features.factory import feature_service
from llm_twin.features.models import SearchFilters
from llm_twin.local.aws import LocalAws
from llm_twin.local.clients import aws_client
from llm_twin.local.workflows import handler_of
from llm_twin.sample.server import SampleSite
from llm_twin.settings import Settings
from llm_twin.workflows.lambda_invoke import LambdaContext


@pytest.fixture
def session(local_aws: LocalAws) -> Iterator[LocalSession]:
    yield LocalSession(local_aws, local_aws.restore_cursor)


def chunks_of(settings: Settings, document_id: str) -> int:
    return feature_service(settings).index.count(SearchFilters(document_ids=[document_id]))


def test_insert_update_and_delete_reach_the_index(session: LocalSession, site: SampleSite) -> None:
    settings = session.settings
    collect(settings, site.author_name, [site.entry_links()[0]])  # the Medium profile: 5 articles
    report = session.sync_features()
    assert report.delivered == 5 and not report.pending and not report.dead_lettered
    documents = session.warehouse().list_documents()
    index = feature_service(settings).index
    assert all(chunks_of(settings, d.document_id) > 0 for d in documents)
    total = index.count()
    assert total > len(documents)

    piece = site.pieces("medium")[0]
    site.update_piece("medium", piece.slug, markdown="A much shorter text about sourdough starters.\n")
    collect(settings, site.author_name, [site.entry_links()[0]])
    assert session.sync_features().delivered == 5  # 1 real change + 4 crawled_at-only MODIFYs
    [changed] = [d for d in session.warehouse().list_documents() if d.version == 2]
    assert chunks_of(settings, changed.document_id) == 1  # the stale chunks are gone
    hits = index.lexical_search("sourdough starters", 3, None)
    assert hits and hits[0].chunk.document_id == changed.document_id

    deleted = session.warehouse().delete_author(changed.author_id)
    assert deleted == len(documents) + 1
    session.sync_features()
    assert index.count() == 0


def test_redelivery_changes_nothing(session: LocalSession, site: SampleSite) -> None:
    collect(session.settings, site.author_name, [site.entry_links()[2]])  # the blog: 4 articles
    poller = session.poller()
    records, _ = _stream_records(session)
    assert poller.drain(session.cursor)[0].delivered == 4
    index = feature_service(session.settings).index
    before = index.count()
    handler = handler_of("feature_indexer")
    response = handler({"Records": records}, _context())
    assert response == {"batchItemFailures": []}
    assert index.count() == before  # same chunk ids overwritten or skipped by content hash: no duplicates


def test_a_poison_record_fails_alone(session: LocalSession, site: SampleSite) -> None:
    collect(session.settings, site.author_name, [site.entry_links()[2]])
    aws_client("dynamodb", session.settings).put_item(
        TableName=session.settings.table_name,
        Item={"pk": {"S": "AUTHOR#x"}, "sk": {"S": "DOC#poison"}, "item_type": {"S": "document"}},
    )
    collect(session.settings, "Second Author", [site.entry_links()[1]])  # after the poison record
    report = session.sync_features()
    assert len(report.dead_lettered) == 1 and not report.pending
    assert report.delivered == 4 + 5
    dead = [json.loads(line) for line in session.poller().dead_letter_path.read_text().splitlines()]
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in dead] == ["DOC#poison"]
    index = feature_service(session.settings).index
    for author in ("nell-harrowgate", "second-author"):
        assert index.count(SearchFilters(author_ids=[author])) > 0


def test_an_index_outage_loses_nothing(session: LocalSession, site: SampleSite) -> None:
    index_dir = Path(session.settings.home) / "index"
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    index_dir.write_text("the index storage is unavailable")  # every write to the index now fails
    collect(session.settings, site.author_name, [site.entry_links()[2]])
    down = session.sync_features()
    assert down.delivered == 0 and down.pending == 4 and not down.dead_lettered
    assert session.poller().pending_path.exists()

    index_dir.unlink()  # the index is back
    back = session.sync_features()
    assert back.delivered == 4 and back.pending == 0
    assert not session.poller().pending_path.exists()
    assert feature_service(session.settings).index.count() > 4


def _stream_records(session: LocalSession) -> tuple[list[dict], object]:
    from llm_twin.features.stream_filter import DOCUMENT_FILTER_PATTERNS, matches_any
    from llm_twin.local.stream_poller import _lambda_record
    from llm_twin.local.streams import read_records

    raw, end = read_records(session.settings, session.cursor)
    shaped = [_lambda_record(r, session.cursor.stream_arn, session.settings.region) for r in raw]
    return [r for r in shaped if matches_any(DOCUMENT_FILTER_PATTERNS, r)], end


def _context() -> LambdaContext:
    return LambdaContext(
        function_name="llm-twin-feature-indexer",
        invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:llm-twin-feature-indexer",
        aws_request_id="test",
    )
