"""The feature service writes a stream batch to the index together, and narrows failures to records.

Real parts throughout: the embedded LanceDB index, all-MiniLM-L6-v2, the WordPiece counter. The only
wrapper counts the index calls and can make one document's chunks fail to write.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llm_twin.domain.models import Category, Platform
from llm_twin.features.embedding.local import LocalEmbedder
from llm_twin.features.index.embedded import EmbeddedIndex
from llm_twin.features.models import IndexedChunk, SearchFilters
from llm_twin.features.service import ChangeOutcome, FeatureService
from llm_twin.features.tokens import default_counter
from llm_twin.settings import Settings
from llm_twin.warehouse.models import DocumentItem
from llm_twin.warehouse.records import Document

NOW = datetime(2026, 1, 5, tzinfo=UTC)


class CountingIndex:
    """The real index; counts calls and refuses to write chunks of ``refuse`` (a broken document)."""

    def __init__(self, index: EmbeddedIndex) -> None:
        self.inner = index
        self.calls: Counter[str] = Counter()
        self.refuse: str | None = None

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        self.calls["upsert"] += 1
        if any(chunk.document_id == self.refuse for chunk in chunks):
            raise ValueError(f"cannot write {self.refuse}")
        self.inner.upsert(chunks)


@pytest.fixture
def index(tmp_path: Path) -> CountingIndex:
    return CountingIndex(EmbeddedIndex(Settings(home=tmp_path)))


@pytest.fixture
def service(index: CountingIndex) -> FeatureService:
    return FeatureService(index, LocalEmbedder(), default_counter())  # type: ignore[arg-type]


def document(n: int, content: str | None = None) -> Document:
    text = content or f"# Note {n}\n\nParagraph {n} about sourdough, kilns and tide tables.\n\n" * 3
    return Document(
        document_id=f"doc-{n}",
        author_id="nell-harrowgate",
        author_name="Nell Harrowgate",
        platform=Platform.BLOG,
        category=Category.ARTICLE,
        link=f"https://blog.example/{n}",
        title=f"Note {n}",
        content=text,
        content_hash=f"hash-{n}-{len(text)}",
        crawled_at=NOW,
        updated_at=NOW,
    )


def insert(doc: Document, event: str = "INSERT") -> dict[str, Any]:
    image = DocumentItem.from_record(doc).serialize()
    keys = {"pk": image["pk"], "sk": image["sk"]}
    return {
        "eventID": f"{event}-{doc.document_id}-{doc.content_hash}",
        "eventName": event,
        "dynamodb": {"Keys": keys, "NewImage": image},
    }


def remove(doc: Document) -> dict[str, Any]:
    image = DocumentItem.from_record(doc).serialize()
    keys = {"pk": image["pk"], "sk": image["sk"]}
    return {
        "eventID": f"REMOVE-{doc.document_id}",
        "eventName": "REMOVE",
        "dynamodb": {"Keys": keys, "OldImage": image},
    }


def actions(outcomes: Sequence[Any]) -> list[str]:
    return [o.action if isinstance(o, ChangeOutcome) else type(o).__name__ for o in outcomes]


def test_a_batch_is_one_lookup_one_delete_and_one_upsert(
    service: FeatureService, index: CountingIndex
) -> None:
    first = [document(n) for n in range(6)]
    outcomes = service.apply_stream_records([insert(d) for d in first])
    assert actions(outcomes) == ["indexed"] * 6
    assert (index.calls["indexed_documents"], index.calls["upsert"]) == (1, 1)
    assert index.calls["delete_documents"] == 0  # nothing indexed before: nothing stale to delete
    indexed = index.inner.count()
    assert indexed == sum(o.chunks for o in outcomes)

    index.calls.clear()
    changed = document(2, "# Note 2\n\nNow only one short paragraph.\n")
    batch = [insert(d, "MODIFY") for d in first[:2]] + [insert(changed, "MODIFY"), remove(first[3])]
    assert actions(service.apply_stream_records(batch)) == ["unchanged", "unchanged", "indexed", "deleted"]
    assert dict(index.calls) == {"indexed_documents": 1, "delete_documents": 1, "upsert": 1}
    assert index.inner.count(SearchFilters(document_ids=["doc-2"])) == 1  # the stale chunks are gone
    assert index.inner.count(SearchFilters(document_ids=["doc-3"])) == 0
    assert index.inner.document_hash("doc-2") == changed.content_hash

    index.calls.clear()  # redelivery of the same batch: no write at all
    assert actions(service.apply_stream_records(batch)) == ["unchanged", "unchanged", "unchanged", "deleted"]
    assert "upsert" not in index.calls and "delete_documents" not in index.calls


def test_the_last_change_of_a_document_wins(service: FeatureService, index: CountingIndex) -> None:
    old, new = document(1), document(1, "# Note 1\n\nThe second version.\n")
    outcomes = service.apply_stream_records([insert(old), insert(new, "MODIFY"), insert(document(2))])
    assert actions(outcomes) == ["superseded", "indexed", "indexed"]
    assert index.inner.document_hash("doc-1") == new.content_hash
    outcomes = service.apply_stream_records([insert(new, "MODIFY"), remove(new)])
    assert actions(outcomes) == ["superseded", "deleted"]
    assert index.inner.count(SearchFilters(document_ids=["doc-1"])) == 0


def test_a_poison_record_never_supersedes_a_good_one(service: FeatureService, index: CountingIndex) -> None:
    poison = insert(document(1), "MODIFY")
    poison["dynamodb"]["NewImage"] = {**poison["dynamodb"]["NewImage"], "platform": {"S": "myspace"}}
    outcomes = service.apply_stream_records([insert(document(1)), poison, {"eventName": "INSERT"}])
    assert actions(outcomes) == ["indexed", "InvalidInputError", "ignored"]
    assert index.inner.document_hash("doc-1") == document(1).content_hash


def test_a_failing_document_fails_alone(service: FeatureService, index: CountingIndex) -> None:
    index.refuse = "doc-3"
    outcomes = service.apply_stream_records([insert(document(n)) for n in range(5)])
    assert actions(outcomes) == ["indexed", "indexed", "indexed", "ValueError", "indexed"]
    assert "doc-3" in str(outcomes[3])
    assert index.calls["upsert"] == 1 + 5  # the batch, then each document on its own
    assert set(index.inner.indexed_documents([f"doc-{n}" for n in range(5)])) == {
        "doc-0",
        "doc-1",
        "doc-2",
        "doc-4",
    }
    index.refuse = None  # the retry of the failed record lands
    assert actions(service.apply_stream_records([insert(document(3))])) == ["indexed"]


def test_index_documents_writes_in_batches(service: FeatureService, index: CountingIndex) -> None:
    outcomes = service.index_documents([document(n) for n in range(40)])
    assert [o.action for o in outcomes] == ["indexed"] * 40
    assert index.calls["upsert"] == 2  # WRITE_BATCH = 32
    index.refuse = "doc-41"
    with pytest.raises(ValueError, match="doc-41"):
        service.index_documents([document(n) for n in range(40, 43)])
