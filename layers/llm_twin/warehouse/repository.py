"""The warehouse repository: authors, documents and collection runs in one DynamoDB table.

``Warehouse(settings)`` opens nothing: the pynamodb models are bound to ``settings.table_name`` /
``region`` / ``aws_endpoint_url`` on first use. Every method takes and returns pydantic records.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from llm_twin import ids
from llm_twin.errors import TransientStoreError
from llm_twin.warehouse import schema
from llm_twin.warehouse.base import TableAccess, is_conditional_failure
from llm_twin.warehouse.documents import DocumentsMixin
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.models import AuthorItem, author_key
from llm_twin.warehouse.records import Author
from llm_twin.warehouse.runs import RunsMixin, new_run_id

__all__ = ["Warehouse", "new_run_id"]

AUTHOR_ATTEMPTS = 3  # read-modify-write of an author's links, optimistic on updated_at


def dedupe_links(links: Iterable[str]) -> list[str]:
    """Canonical URLs, first occurrence kept, order kept, blanks dropped."""
    return list(dict.fromkeys(ids.canonical_url(link) for link in links if link.strip()))


class AuthorsMixin(TableAccess):
    def upsert_author(self, full_name: str, links: Iterable[str] = (), now: datetime | None = None) -> Author:
        """Create the author (id = slug of the name) or add ``links`` to theirs. Idempotent: nothing is
        written when the author exists and already has every link."""
        author_id = ids.author_id(full_name)
        wanted = dedupe_links(links)
        model = self.models.author
        for _ in range(AUTHOR_ATTEMPTS):
            moment = self._now(now)
            current = self._author_item(author_id)
            try:
                if current is None:
                    author = Author(
                        author_id=author_id,
                        full_name=full_name.strip(),
                        links=wanted,
                        created_at=moment,
                        updated_at=moment,
                    )
                    model.from_record(author).save(condition=model.pk.does_not_exist())
                    return author
                merged = dedupe_links([*current.links, *wanted])
                if merged == list(current.links):
                    return current.to_record()
                current.update(
                    actions=[model.links.set(merged), model.updated_at.set(moment)],
                    condition=model.updated_at == current.updated_at,
                )
                return current.to_record()
            except (PutError, UpdateError) as exc:
                if not is_conditional_failure(exc):
                    raise
        raise TransientStoreError(f"author {author_id} kept changing concurrently")

    def _author_item(self, author_id: str) -> AuthorItem | None:
        try:
            return self.models.author.get(*author_key(author_id), consistent_read=True)
        except DoesNotExist:
            return None

    def get_author(self, author_id: str) -> Author | None:
        item = self._author_item(author_id)
        return item.to_record() if item is not None else None

    def list_authors(self) -> list[Author]:
        """Every author, sorted by id (sparse listing index ``gsi1pk = AUTHORS``)."""
        return [item.to_record() for item in self.models.author.gsi1.query(schema.GSI1_AUTHORS)]

    def set_author_links(self, author_id: str, links: Iterable[str], now: datetime | None = None) -> Author:
        """Replace the author's links (de-duplicated by canonical URL, order kept)."""
        model = self.models.author
        return self._update_author(author_id, [model.links.set(dedupe_links(links))], now)

    def set_author_schedule(self, author_id: str, enabled: bool, now: datetime | None = None) -> Author:
        """Include (or exclude) the author in scheduled re-crawls."""
        model = self.models.author
        return self._update_author(author_id, [model.schedule_enabled.set(enabled)], now)

    def _update_author(self, author_id: str, actions: list[Action], now: datetime | None) -> Author:
        model = self.models.author
        item = model(*author_key(author_id))
        try:
            item.update(actions=[*actions, model.updated_at.set(self._now(now))], condition=model.pk.exists())
        except UpdateError as exc:
            if is_conditional_failure(exc):
                raise NotFoundError(f"unknown author {author_id}") from exc
            raise
        return item.to_record()

    def delete_author(self, author_id: str) -> int:
        """Delete the author's documents (batch deletes: one stream REMOVE each, which deletes their
        vectors), then the author. Returns the number of items deleted (0: unknown author)."""
        models = self.models
        pk, profile_sk = author_key(author_id)
        keys = models.item.query(
            pk, consistent_read=True, attributes_to_get=[schema.PARTITION_KEY, schema.SORT_KEY]
        )
        profile = None
        deleted = 0
        with models.item.batch_write() as batch:
            for item in keys:
                if item.sk == profile_sk:
                    profile = item
                    continue
                batch.delete(item)
                deleted += 1
        if profile is not None:  # last, so an interrupted delete can be finished by calling it again
            profile.delete()
            deleted += 1
        return deleted


class Warehouse(AuthorsMixin, DocumentsMixin, RunsMixin):
    """Authors, documents and collection runs (see docs/data-model.md for the item layout)."""
