from __future__ import annotations

import pytest

from llm_twin.rag.expansion import QueryExpander, parse_alternatives
from tests.rag.fakes import ScriptedChatModel, failing

Q = "How should I chunk documents?"


@pytest.mark.parametrize(
    "reply",
    [
        "1. What is a good chunking strategy?\n2) How do I split documents for retrieval?\n"
        "3. Best chunk size?",
        'Here are rewrites:\n["What is a good chunking strategy?", '
        '"How do I split documents for retrieval?", '
        '"Best chunk size?"]',
        "Sure, here are 3 alternatives:\n- What is a good chunking strategy?\n* How do I split documents for "
        'retrieval?\n• "Best chunk size?"',
        "Query 1: What is a good chunking strategy?\nQuery 2: How do I split documents for retrieval?\n"
        "Query 3: Best chunk size?\nQuery 4: An extra one",
    ],
)
def test_formats(reply: str) -> None:
    assert parse_alternatives(reply, Q, 3) == [
        "What is a good chunking strategy?",
        "How do I split documents for retrieval?",
        "Best chunk size?",
    ]


def test_duplicates_and_the_original_are_dropped() -> None:
    reply = f"1. {Q}\n2. how should i chunk documents\n3. Chunking advice?\n4. chunking advice"
    assert parse_alternatives(reply, Q, 3) == ["Chunking advice?"]


def test_the_original_is_always_first() -> None:
    model = ScriptedChatModel(expansion="1. Chunking advice?\n2. Splitting documents?")
    assert QueryExpander(model, 3).expand(Q) == [Q, "Chunking advice?", "Splitting documents?"]


@pytest.mark.parametrize("reply", ["", "   ", failing()])
def test_failure_yields_the_original_only(reply) -> None:
    notes: list[str] = []
    assert QueryExpander(ScriptedChatModel(expansion=reply), 3).expand(Q, notes) == [Q]


def test_off_when_n_is_zero() -> None:
    model = ScriptedChatModel(expansion="1. x y z")
    assert QueryExpander(model, 0).expand(Q) == [Q] and not model.calls
