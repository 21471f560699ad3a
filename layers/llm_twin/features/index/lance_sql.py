"""SearchFilters → a LanceDB (DataFusion SQL) ``where`` predicate, built safely.

Only string literals ever come from callers; they are quoted with every ``'`` doubled (the SQL
standard escape, which DataFusion follows; backslashes are not escapes there). Column names are ours.
Semantics, identical in the OpenSearch adapter: every given field narrows the result (AND), a list
matches any of its values (an empty list matches nothing), ``published_after`` is inclusive and
``published_before`` exclusive, and a chunk without ``published_at`` never matches a date bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from llm_twin.errors import InvalidInputError
from llm_twin.features.models import SearchFilters


def quote(value: str) -> str:
    if "\x00" in value:
        raise InvalidInputError("NUL character in a filter value")
    return "'" + value.replace("'", "''") + "'"


def in_list(column: str, values: Iterable[str]) -> str:
    items = [quote(str(v)) for v in values]
    if not items:
        return "FALSE"
    if len(items) == 1:
        return f"{column} = {items[0]}"
    return f"{column} IN ({', '.join(items)})"


def utc(value: datetime) -> datetime:
    """Aware datetimes converted to UTC; naive ones are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp(value: datetime) -> str:
    return f"TIMESTAMP '{utc(value).strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00'"


def where(filters: SearchFilters | None) -> str | None:
    if filters is None:
        return None
    clauses: list[str] = []
    if filters.author_ids is not None:
        clauses.append(in_list("author_id", filters.author_ids))
    if filters.platforms is not None:
        clauses.append(in_list("platform", (p.value for p in filters.platforms)))
    if filters.categories is not None:
        clauses.append(in_list("category", (c.value for c in filters.categories)))
    if filters.document_ids is not None:
        clauses.append(in_list("document_id", filters.document_ids))
    if filters.published_after is not None:
        clauses.append(f"published_at >= {timestamp(filters.published_after)}")
    if filters.published_before is not None:
        clauses.append(f"published_at < {timestamp(filters.published_before)}")
    if not clauses:
        return None
    return " AND ".join(f"({c})" for c in clauses)
