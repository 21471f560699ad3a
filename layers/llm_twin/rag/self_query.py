"""Self-query: filters (author, platform, category, date range) from the question.

The LLM is asked for a JSON object; the reply is validated (pydantic :class:`QueryFilters`), repaired
when malformed (first JSON object, values coerced, unknown platforms dropped) and *grounded*: a
platform, category or date the question gives no hint of is dropped, because a hallucinated filter
silently empties the results. When the LLM fails or says nothing usable, deterministic rules extract
the filters. Read-only: an author name resolves to an existing author or to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from llm_twin.domain.models import Category, Platform
from llm_twin.errors import LlmTwinError
from llm_twin.llm.ports import ChatModel, GenerationParams
from llm_twin.rag import prompts
from llm_twin.rag.models import QueryFilters
from llm_twin.rag.parsing import first_json
from llm_twin.warehouse.records import Author

FilterSource = Literal["llm", "llm-repaired", "rules", "none"]

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_YEAR = r"((?:19|20)\d\d)"
_PLATFORM_WORDS = {
    "medium": Platform.MEDIUM,
    "substack": Platform.SUBSTACK,
    "newsletter": Platform.SUBSTACK,
    "linkedin": Platform.LINKEDIN,
    "github": Platform.GITHUB,
    "blog": Platform.BLOG,
    "website": Platform.BLOG,
}
_CATEGORY_WORDS = {
    "post": Category.POST,
    "posts": Category.POST,
    "article": Category.ARTICLE,
    "articles": Category.ARTICLE,
    "essay": Category.ARTICLE,
    "essays": Category.ARTICLE,
    "code": Category.REPOSITORY,
    "repo": Category.REPOSITORY,
    "repos": Category.REPOSITORY,
    "repository": Category.REPOSITORY,
    "repositories": Category.REPOSITORY,
}
_PLATFORM_RULES = [
    re.compile(
        r"\b(?:on|from|in|at|via)\s+(?:(?:my|your|her|his|their|the)\s+)?(medium|substack|linkedin|github)\b",
        re.I,
    ),
    re.compile(
        r"\b(medium|substack|linkedin|github)\s+(?:posts?|articles?|essays?|repos?|repositories|code|newsletter)\b",
        re.I,
    ),
    re.compile(r"\b(?:my|your|her|his|their)\s+(blog|newsletter|website)\b", re.I),
]
_OWNER = r"(?:my|your|her|his|their|the author's)"
_CATEGORY_RULES = [
    re.compile(rf"\b{_OWNER}\s+(?:\w+\s+)?(posts?|articles?|essays?|code|repos?|repositories)\b", re.I),
    re.compile(
        r"\b(posts?|articles?|essays?|code)\s+(?:on|from)\s+(?:medium|substack|linkedin|github)\b", re.I
    ),
    re.compile(
        r"\b(?:medium|substack|linkedin|github)\s+(posts?|articles?|repos?|repositories|code)\b", re.I
    ),
]


def _month(token: str) -> int:
    token = token.lower()[:3]
    return next(number for name, number in MONTHS.items() if name.startswith(token))


def _start(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next(year: int, month: int | None) -> datetime:
    if month is None:
        return _start(year + 1)
    return _start(year + 1, 1) if month == 12 else _start(year, month + 1)


def rule_dates(question: str) -> tuple[datetime | None, datetime | None]:
    """``since|after|from March 2023``, ``before|until 2024``, ``in [March] 2024`` → a half-open range."""
    after = before = None
    date = rf"(?:({_MONTH})\s+)?{_YEAR}"
    if m := re.search(rf"\b(?:since|from)\s+{date}\b", question, re.I):
        after = _start(int(m.group(2)), _month(m.group(1)) if m.group(1) else 1)
    elif m := re.search(rf"\bafter\s+{date}\b", question, re.I):
        month = _month(m.group(1)) if m.group(1) else None
        after = _next(int(m.group(2)), month)
    if m := re.search(rf"\b(?:before|until|till|prior to)\s+{date}\b", question, re.I):
        before = _start(int(m.group(2)), _month(m.group(1)) if m.group(1) else 1)
    if after is None and before is None and (m := re.search(rf"\b(?:in|during)\s+{date}\b", question, re.I)):
        month = _month(m.group(1)) if m.group(1) else None
        after = _start(int(m.group(2)), month or 1)
        before = _next(int(m.group(2)), month)
    return after, before


def resolve_author(name: object, authors: Sequence[Author]) -> Author | None:
    """An existing author by full name or id (case- and space-insensitive); never creates one."""
    if not isinstance(name, str) or not name.strip():
        return None
    wanted = " ".join(name.lower().split())
    for author in authors:
        if wanted in (" ".join(author.full_name.lower().split()), author.author_id):
            return author
    return None


def rule_filters(question: str, authors: Sequence[Author]) -> QueryFilters:
    """Deterministic extraction (the fallback, and the grounding check of the LLM's filters)."""
    platforms: list[Platform] = []
    for rule in _PLATFORM_RULES:
        for m in rule.finditer(question):
            platform = _PLATFORM_WORDS[m.group(1).lower()]
            if platform not in platforms:
                platforms.append(platform)
    categories: list[Category] = []
    for rule in _CATEGORY_RULES:
        for m in rule.finditer(question):
            category = _CATEGORY_WORDS[m.group(1).lower()]
            if category not in categories:
                categories.append(category)
    lowered = " ".join(question.lower().split())
    author = next((a.full_name for a in authors if a.full_name.lower() in lowered), None)
    after, before = rule_dates(question)
    return QueryFilters(
        author=author,
        platforms=platforms,
        categories=categories,
        published_after=after,
        published_before=before,
    )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,/;]| and ", value) if part.strip()]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v is not None]
    return []


def _coerce_date(value: Any) -> datetime | None:
    if not isinstance(value, str | int) or str(value).strip().lower() in ("", "null", "none"):
        return None
    text = str(value).strip()
    if re.fullmatch(r"(?:19|20)\d\d", text):
        return _start(int(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def coerce_filters(data: dict[str, Any], authors: Sequence[Author]) -> tuple[QueryFilters, bool]:
    """Validate the LLM's object leniently; returns the filters and whether anything was repaired."""
    repaired = False
    platforms: list[Platform] = []
    for raw in _as_list(data.get("platforms", data.get("platform"))):
        platform = _PLATFORM_WORDS.get(raw.lower().removeprefix("my ").strip())
        if platform is None:
            repaired = True  # unknown platform dropped
        elif platform not in platforms:
            platforms.append(platform)
    categories: list[Category] = []
    for raw in _as_list(data.get("categories", data.get("category"))):
        category = _CATEGORY_WORDS.get(raw.lower().strip())
        if category is None:
            repaired = True
        elif category not in categories:
            categories.append(category)
    author = resolve_author(data.get("author"), authors)
    if data.get("author") and author is None:
        repaired = True
    filters = QueryFilters(
        author=author.full_name if author else None,
        platforms=platforms,
        categories=categories,
        published_after=_coerce_date(data.get("published_after")),
        published_before=_coerce_date(data.get("published_before")),
    )
    return filters, repaired


def ground(filters: QueryFilters, question: str) -> QueryFilters:
    """Drop what the question gives no hint of (small models invent filters)."""
    lowered = question.lower()
    platforms = [
        p for p in filters.platforms if any(w in lowered for w, q in _PLATFORM_WORDS.items() if q == p)
    ]
    categories = [
        c
        for c in filters.categories
        if any(re.search(rf"\b{w}\b", lowered) for w, q in _CATEGORY_WORDS.items() if q == c)
    ]
    has_year = re.search(_YEAR, question) is not None
    return filters.model_copy(
        update={
            "platforms": platforms,
            "categories": categories,
            "published_after": filters.published_after if has_year else None,
            "published_before": filters.published_before if has_year else None,
        }
    )


def _empty(filters: QueryFilters) -> bool:
    return filters == QueryFilters()


class SelfQuery:
    def __init__(
        self,
        chat_model: ChatModel | None,
        list_authors: Callable[[], Sequence[Author]],
        *,
        max_tokens: int = 160,
        today: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._model = chat_model
        self._list_authors = list_authors
        self._params = GenerationParams(max_new_tokens=max_tokens, temperature=0.0)
        self._today = today

    def extract(
        self, question: str, notes: list[str] | None = None, *, authors: Sequence[Author] | None = None
    ) -> tuple[QueryFilters, FilterSource]:
        """``authors``: the list the caller already read for this request (else read here)."""
        notes = notes if notes is not None else []
        authors = list(self._list_authors() if authors is None else authors)
        rules = rule_filters(question, authors)
        if self._model is not None:
            try:
                reply = self._model.generate(
                    prompts.self_query_messages(question, [a.full_name for a in authors], self._today()),
                    self._params,
                ).text
            except LlmTwinError as exc:
                notes.append(f"self-query: LLM failed ({exc}); rules used")
                return rules, "rules" if not _empty(rules) else "none"
            data = first_json(reply)
            if isinstance(data, dict):
                try:
                    filters, repaired = coerce_filters(data, authors)
                except ValueError as exc:
                    notes.append(f"self-query: invalid LLM filters ({exc}); rules used")
                else:
                    grounded = ground(filters, question)
                    if grounded != filters:
                        notes.append("self-query: dropped LLM filters the question does not mention")
                        repaired = True
                    if not _empty(grounded):
                        return grounded, "llm-repaired" if repaired else "llm"
            else:
                notes.append("self-query: no JSON object in the LLM reply; rules used")
        return rules, "rules" if not _empty(rules) else "none"
