from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llm_twin.domain.models import Category, Platform
from llm_twin.rag.models import QueryFilters
from llm_twin.rag.parsing import first_json
from llm_twin.rag.self_query import SelfQuery, rule_filters
from tests.conftest import load_sample_questions
from tests.rag.fakes import Directory, ScriptedChatModel, failing

AUTHORS = Directory("Ada Quill", "Bruno Vale")


def extract(reply, question: str) -> tuple[QueryFilters, str]:
    model = ScriptedChatModel(self_query=reply)
    return SelfQuery(model, AUTHORS.list_authors).extract(question)


def test_a_clean_json_reply_is_used() -> None:
    reply = (
        '{"author": "Ada Quill", "platforms": ["medium"], "categories": ["article"], '
        '"published_after": "2024-01-01", "published_before": null}'
    )
    filters, source = extract(reply, "What did Ada Quill write in Medium articles in 2024?")
    assert source == "llm"
    assert filters.author == "Ada Quill"
    assert filters.platforms == [Platform.MEDIUM] and filters.categories == [Category.ARTICLE]
    assert filters.published_after == datetime(2024, 1, 1, tzinfo=UTC)


def test_a_malformed_reply_is_repaired() -> None:
    reply = (
        "Sure! Here are the filters:\n```json\n{'author': 'ada quill', 'platforms': 'Medium, Twitter', "
        "'categories': ['posts'], 'published_after': '2023', 'published_before': None,}\n```"
    )
    filters, source = extract(reply, "Ada Quill's posts on Medium or Twitter since 2023?")
    assert source == "llm-repaired"  # twitter dropped
    assert filters == QueryFilters(
        author="Ada Quill",
        platforms=[Platform.MEDIUM],
        categories=[Category.POST],
        published_after=datetime(2023, 1, 1, tzinfo=UTC),
    )


def test_hallucinated_filters_are_dropped() -> None:
    reply = '{"platforms": ["github"], "categories": ["repository"], "published_after": "2021-01-01"}'
    filters, _ = extract(reply, "How do I keep a sourdough starter alive?")
    assert filters == QueryFilters()


@pytest.mark.parametrize("reply", ["no idea", "{not json at all", "[1, 2]", failing()])
def test_garbage_or_failure_falls_back_to_rules(reply) -> None:
    filters, source = extract(reply, "What did Bruno Vale post on LinkedIn since March 2023?")
    assert source == "rules"
    assert filters.author == "Bruno Vale"
    assert filters.platforms == [Platform.LINKEDIN]
    assert filters.published_after == datetime(2023, 3, 1, tzinfo=UTC)


def test_an_unknown_author_resolves_to_nothing() -> None:
    filters, _ = extract('{"author": "Zed Unknown"}', "What does Zed Unknown think?")
    assert filters.author is None
    assert [a.full_name for a in AUTHORS.list_authors()] == ["Ada Quill", "Bruno Vale"]  # nothing created


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("what did I say on Medium about chunking", {"platforms": [Platform.MEDIUM]}),
        ("in my blog, how do I cache embeddings", {"platforms": [Platform.BLOG]}),
        ("my LinkedIn posts about hiring", {"platforms": [Platform.LINKEDIN], "categories": [Category.POST]}),
        ("show me your code for retries", {"categories": [Category.REPOSITORY]}),
        ("on GitHub, what does the parser do", {"platforms": [Platform.GITHUB]}),
        (
            "articles on Substack in 2024",
            {
                "platforms": [Platform.SUBSTACK],
                "categories": [Category.ARTICLE],
                "published_after": datetime(2024, 1, 1, tzinfo=UTC),
                "published_before": datetime(2025, 1, 1, tzinfo=UTC),
            },
        ),
        ("since March 2023, what changed", {"published_after": datetime(2023, 3, 1, tzinfo=UTC)}),
        ("before 2022 what did you think", {"published_before": datetime(2022, 1, 1, tzinfo=UTC)}),
        ("what does ada quill say about kafka", {"author": "Ada Quill"}),
        ("why does search fail on an error code from the display", {}),
    ],
)
def test_rules(question: str, expected: dict) -> None:
    assert rule_filters(question, AUTHORS.list_authors()) == QueryFilters(**expected)


def test_rules_never_contradict_the_sample_labels() -> None:
    """On the labeled questions, rules may say nothing, never something wrong."""
    for question in load_sample_questions():
        filters = rule_filters(question["question"], [])
        if filters.platforms:
            assert [p.value for p in filters.platforms] == [question.get("platform")], question
        if filters.categories:
            assert [c.value for c in filters.categories] == [question.get("category")], question


def test_first_json_skips_broken_objects() -> None:
    assert first_json('x {"a": } then {"b": [1, "}"],} end') == {"b": [1, "}"]}
    assert first_json("nothing") is None
