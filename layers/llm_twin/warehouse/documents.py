"""Documents: idempotent, concurrency-safe upserts keyed by (author id, canonical link)."""

from __future__ import annotations

import functools
import operator
from datetime import datetime

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition

from llm_twin import ids
from llm_twin.domain.models import Category, CrawledDocument, Platform, UpsertOutcome
from llm_twin.errors import InvalidInputError, TransientStoreError
from llm_twin.warehouse import schema
from llm_twin.warehouse.base import CONFLICT_ATTEMPTS, TableAccess, is_conditional_failure
from llm_twin.warehouse.models import DocumentItem, document_key
from llm_twin.warehouse.records import Document
from llm_twin.warehouse.sizing import content_budget, item_size, truncate_utf8

TRUNCATED_KEY = "truncated"  # metadata set when the content was cut to fit
ORIGINAL_BYTES_KEY = "original_bytes"


class DocumentsMixin(TableAccess):
    def upsert_document(
        self, author_id: str, author_name: str, doc: CrawledDocument, now: datetime | None = None
    ) -> UpsertOutcome:
        """Store one crawled document. Same content hash as stored -> ``"unchanged"`` (only
        ``crawled_at`` moves, through an update conditioned on the hash, so content and indexed fields
        are never rewritten); absent -> ``"new"`` (put if not exists); different -> ``"updated"``
        (version + 1, put conditioned on the version read). A lost race is re-read and retried once,
        then raises TransientStoreError."""
        now = self._now(now)
        record = self._fit(
            Document(
                document_id=ids.document_id(author_id, doc.link),
                author_id=author_id,
                author_name=author_name,
                platform=doc.platform,
                category=doc.category,
                link=ids.canonical_url(doc.link),
                title=doc.title,
                subtitle=doc.subtitle,
                content=doc.content,
                content_hash=ids.content_hash(doc.content),
                published_at=doc.published_at,
                metadata=dict(doc.metadata),
                crawled_at=now,
                updated_at=now,
                version=1,
            )
        )
        model = self.models.document
        pk, sk = document_key(author_id, record.document_id)
        for _ in range(CONFLICT_ATTEMPTS):
            try:
                head = model.get(pk, sk, consistent_read=True, attributes_to_get=["content_hash", "version"])
            except DoesNotExist:
                head = None
            try:
                if head is None:
                    model.from_record(record).save(condition=model.pk.does_not_exist())
                    return "new"
                if head.content_hash == record.content_hash:
                    model(pk, sk).update(
                        actions=[model.crawled_at.set(now)],
                        condition=model.content_hash == record.content_hash,
                    )
                    return "unchanged"
                version = int(head.version)
                model.from_record(record.model_copy(update={"version": version + 1})).save(
                    condition=model.version == version
                )
                return "updated"
            except (PutError, UpdateError) as exc:
                if not is_conditional_failure(exc):
                    raise
        raise TransientStoreError(
            f"document {record.document_id} of {author_id} kept changing concurrently; retry the link"
        )

    def _fit(self, record: Document) -> Document:
        """Cut the content (at a character boundary) so the item fits ``max_document_bytes`` and
        DynamoDB's 400 KB; a cut document says so in its metadata and hashes the stored content."""
        size = len(record.content.encode())
        flagged = {**record.metadata, TRUNCATED_KEY: "true", ORIGINAL_BYTES_KEY: str(size)}
        skeleton = record.model_copy(update={"content": "", "metadata": flagged})
        overhead = item_size(DocumentItem.from_record(skeleton).serialize())
        budget = content_budget(overhead, self.settings.max_document_bytes)
        if budget <= 0:
            raise InvalidInputError(
                f"document {record.link}: its fields besides content exceed the item limit"
            )
        if size <= budget:
            return record
        content = truncate_utf8(record.content, budget)
        return record.model_copy(
            update={"content": content, "content_hash": ids.content_hash(content), "metadata": flagged}
        )

    def get_document(self, author_id: str, document_id: str) -> Document | None:
        try:
            return self.models.document.get(*document_key(author_id, document_id)).to_record()
        except DoesNotExist:
            return None

    def list_documents(
        self,
        author_id: str | None = None,
        platform: Platform | str | None = None,
        category: Category | str | None = None,
    ) -> list[Document]:
        """Documents, sorted by (author id, link). With an author: one partition query; without: a
        scan of the table (fine for exports and small warehouses, not for a request path)."""
        model = self.models.document
        filters: list[Condition] = [model.item_type == schema.ITEM_TYPE_DOCUMENT]
        if platform is not None:
            filters.append(model.platform == Platform(platform).value)
        if category is not None:
            filters.append(model.category == Category(category).value)
        condition = functools.reduce(operator.and_, filters)
        if author_id is not None:
            pk, _ = document_key(author_id, "")
            items = model.query(pk, model.sk.startswith(schema.DOCUMENT_PREFIX), filter_condition=condition)
        else:
            items = model.scan(filter_condition=condition)
        return sorted((item.to_record() for item in items), key=lambda d: (d.author_id, d.link))

    def delete_document(self, author_id: str, document_id: str) -> bool:
        """Delete one document; False when it did not exist."""
        model = self.models.document
        try:
            model(*document_key(author_id, document_id)).delete(condition=model.pk.exists())
        except DeleteError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
