"""pynamodb models of the warehouse items and how they bind to a table.

The item classes below declare attributes and key layout only; they have no ``Meta`` and cannot talk
to DynamoDB. :func:`bind_models` derives, once per (table, region, endpoint), subclasses whose ``Meta``
names that table, so two warehouses (say, AWS and moto, or two test tables) coexist in one process
without mutating shared class state. Keys and attribute names come from :mod:`.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar, TypeVar

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.constants import STRING
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from llm_twin.domain.models import Category, Platform
from llm_twin.warehouse import schema
from llm_twin.warehouse.records import (
    Author,
    CollectionRun,
    Document,
    RunLinkStatus,
    WarehouseRecord,
    as_utc,
)

_M = TypeVar("_M", bound="WarehouseItem")


class IsoDateTimeAttribute(Attribute[datetime]):
    """UTC datetime stored as fixed-width ISO-8601 (``2026-11-29T13:48:59.123456Z``): sorts as text."""

    attr_type = STRING

    def serialize(self, value: datetime) -> str:
        return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def deserialize(self, value: str) -> datetime:
        return as_utc(datetime.fromisoformat(value))


def iso(value: datetime) -> str:
    return IsoDateTimeAttribute().serialize(value)


def _plain(value: Any) -> dict[str, Any]:
    """A raw MapAttribute (as pynamodb deserializes it) or a dict, as a plain dict."""
    if value is None:
        return {}
    return dict(value.as_dict()) if isinstance(value, MapAttribute) else dict(value)


class Gsi1(GlobalSecondaryIndex["WarehouseItem"]):
    class Meta:
        index_name = schema.GSI1_NAME
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name=schema.GSI1_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(range_key=True, attr_name=schema.GSI1_SORT_KEY)


class WarehouseItem(Model):
    """Any item of the table: keys, type and the optional listing-index keys."""

    ITEM_TYPE: ClassVar[str] = ""

    pk = UnicodeAttribute(hash_key=True, attr_name=schema.PARTITION_KEY)
    sk = UnicodeAttribute(range_key=True, attr_name=schema.SORT_KEY)
    item_type = UnicodeAttribute(attr_name=schema.ITEM_TYPE_ATTRIBUTE)
    gsi1pk = UnicodeAttribute(null=True, attr_name=schema.GSI1_PARTITION_KEY)
    gsi1sk = UnicodeAttribute(null=True, attr_name=schema.GSI1_SORT_KEY)
    gsi1 = Gsi1()

    def to_record(self) -> WarehouseRecord:
        raise NotImplementedError

    @classmethod
    def from_record(cls: type[_M], record: Any) -> _M:
        raise NotImplementedError


def author_key(author_id: str) -> tuple[str, str]:
    return f"{schema.AUTHOR_PREFIX}{author_id}", schema.PROFILE_SK


def document_key(author_id: str, document_id: str) -> tuple[str, str]:
    return f"{schema.AUTHOR_PREFIX}{author_id}", f"{schema.DOCUMENT_PREFIX}{document_id}"


def run_key(run_id: str) -> tuple[str, str]:
    return f"{schema.RUN_PREFIX}{run_id}", schema.RUN_SK


def link_key(run_id: str, index: int) -> tuple[str, str]:
    return f"{schema.RUN_PREFIX}{run_id}", f"{schema.LINK_PREFIX}{index:05d}"


class AuthorItem(WarehouseItem):
    ITEM_TYPE = schema.ITEM_TYPE_AUTHOR

    author_id = UnicodeAttribute()
    full_name = UnicodeAttribute()
    links = ListAttribute(of=UnicodeAttribute)
    schedule_enabled = BooleanAttribute()
    created_at = IsoDateTimeAttribute()
    updated_at = IsoDateTimeAttribute()

    def to_record(self) -> Author:
        return Author(
            author_id=self.author_id,
            full_name=self.full_name,
            links=list(self.links or []),
            schedule_enabled=self.schedule_enabled,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )

    @classmethod
    def from_record(cls, record: Author) -> AuthorItem:
        pk, sk = author_key(record.author_id)
        return cls(
            pk,
            sk,
            item_type=cls.ITEM_TYPE,
            gsi1pk=schema.GSI1_AUTHORS,
            gsi1sk=record.author_id,
            **record.model_dump(),
        )


class DocumentItem(WarehouseItem):
    ITEM_TYPE = schema.ITEM_TYPE_DOCUMENT

    document_id = UnicodeAttribute()
    author_id = UnicodeAttribute()
    author_name = UnicodeAttribute()
    platform = UnicodeAttribute()
    category = UnicodeAttribute()
    link = UnicodeAttribute()
    title = UnicodeAttribute()
    subtitle = UnicodeAttribute(null=True)
    content = UnicodeAttribute()
    content_hash = UnicodeAttribute()
    published_at = IsoDateTimeAttribute(null=True)
    metadata: MapAttribute[str, str] = MapAttribute()
    crawled_at = IsoDateTimeAttribute()
    updated_at = IsoDateTimeAttribute()
    version = NumberAttribute()

    def to_record(self) -> Document:
        return Document(
            document_id=self.document_id,
            author_id=self.author_id,
            author_name=self.author_name,
            platform=Platform(self.platform),
            category=Category(self.category),
            link=self.link,
            title=self.title,
            subtitle=self.subtitle,
            content=self.content,
            content_hash=self.content_hash,
            published_at=self.published_at,
            metadata=_plain(self.metadata),
            crawled_at=self.crawled_at,
            updated_at=self.updated_at,
            version=int(self.version),
        )

    @classmethod
    def from_record(cls, record: Document) -> DocumentItem:
        pk, sk = document_key(record.author_id, record.document_id)
        fields = record.model_dump()
        fields.update(platform=record.platform.value, category=record.category.value)
        return cls(pk, sk, item_type=cls.ITEM_TYPE, **fields)


class RunItem(WarehouseItem):
    ITEM_TYPE = schema.ITEM_TYPE_RUN

    run_id = UnicodeAttribute()
    status = UnicodeAttribute()
    requested = NumberAttribute()
    authors = ListAttribute(of=UnicodeAttribute)
    started_at = IsoDateTimeAttribute()
    finished_at = IsoDateTimeAttribute(null=True)
    counts: MapAttribute[str, int] = MapAttribute()

    def to_record(self) -> CollectionRun:
        return CollectionRun(
            run_id=self.run_id,
            status=self.status,  # type: ignore[arg-type]  # validated by the record
            requested=int(self.requested),
            authors=list(self.authors or []),
            started_at=self.started_at,
            finished_at=self.finished_at,
            counts={k: int(v) for k, v in _plain(self.counts).items()},
        )

    @classmethod
    def from_record(cls, record: CollectionRun) -> RunItem:
        pk, sk = run_key(record.run_id)
        return cls(
            pk,
            sk,
            item_type=cls.ITEM_TYPE,
            gsi1pk=schema.GSI1_RUNS,
            gsi1sk=f"{iso(record.started_at)}#{record.run_id}",
            **record.model_dump(),
        )


class LinkStatusItem(WarehouseItem):
    ITEM_TYPE = schema.ITEM_TYPE_LINK_STATUS

    run_id = UnicodeAttribute()
    index = NumberAttribute()
    author_id = UnicodeAttribute()
    link = UnicodeAttribute()
    status = UnicodeAttribute()
    crawler = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    new = NumberAttribute()
    updated = NumberAttribute()
    unchanged = NumberAttribute()
    failed_items = NumberAttribute()
    updated_at = IsoDateTimeAttribute()

    def to_record(self) -> RunLinkStatus:
        return RunLinkStatus(
            run_id=self.run_id,
            index=int(self.index),
            author_id=self.author_id,
            link=self.link,
            status=self.status,  # type: ignore[arg-type]  # validated by the record
            crawler=self.crawler,
            reason=self.reason,
            new=int(self.new),
            updated=int(self.updated),
            unchanged=int(self.unchanged),
            failed_items=int(self.failed_items),
            updated_at=self.updated_at,
        )

    @classmethod
    def from_record(cls, record: RunLinkStatus) -> LinkStatusItem:
        pk, sk = link_key(record.run_id, record.index)
        return cls(pk, sk, item_type=cls.ITEM_TYPE, **record.model_dump())


ITEM_CLASSES: tuple[type[WarehouseItem], ...] = (AuthorItem, DocumentItem, RunItem, LinkStatusItem)
RECORD_CLASSES: dict[str, type[WarehouseRecord]] = {
    schema.ITEM_TYPE_AUTHOR: Author,
    schema.ITEM_TYPE_DOCUMENT: Document,
    schema.ITEM_TYPE_RUN: CollectionRun,
    schema.ITEM_TYPE_LINK_STATUS: RunLinkStatus,
}


@dataclass(frozen=True)
class TableBinding:
    table_name: str
    region: str
    host: str | None = None  # endpoint URL (moto's server locally); None on AWS


@dataclass(frozen=True)
class WarehouseModels:
    """The item classes bound to one table."""

    binding: TableBinding
    item: type[WarehouseItem]  # keys only: deletes and key listings of any item type
    author: type[AuthorItem]
    document: type[DocumentItem]
    run: type[RunItem]
    link: type[LinkStatusItem]

    def for_type(self, item_type: str) -> type[WarehouseItem]:
        for cls in (self.author, self.document, self.run, self.link):
            if item_type == cls.ITEM_TYPE:
                return cls
        raise KeyError(item_type)


def _bind(cls: type[_M], meta: type) -> type[_M]:
    class Bound(cls):  # type: ignore[valid-type,misc]
        Meta = meta

    Bound.__name__ = cls.__name__
    Bound.__qualname__ = f"{cls.__qualname__}@{meta.table_name}"
    return Bound


@lru_cache(maxsize=32)
def bind_models(binding: TableBinding) -> WarehouseModels:
    """Item classes for one table. Cached: each bound class keeps one pynamodb connection. No I/O."""
    meta = type(
        "Meta",
        (),
        {
            "table_name": binding.table_name,
            "region": binding.region,
            "host": binding.host,
            "max_retry_attempts": 4,
            "connect_timeout_seconds": 5,
            "read_timeout_seconds": 30,
        },
    )
    models = WarehouseModels(
        binding=binding,
        item=_bind(WarehouseItem, meta),
        author=_bind(AuthorItem, meta),
        document=_bind(DocumentItem, meta),
        run=_bind(RunItem, meta),
        link=_bind(LinkStatusItem, meta),
    )
    # One pynamodb connection (one botocore client, created on the first request) for the whole table
    # instead of one per class: every class has the same keys and index, and each botocore client costs
    # ~50 ms to create. pynamodb (pinned < 7) reuses a class's ``_connection`` while its table matches.
    shared = models.item._get_connection()  # builds the object only; no request
    for cls in (models.author, models.document, models.run, models.link):
        cls._connection = shared
    return models
