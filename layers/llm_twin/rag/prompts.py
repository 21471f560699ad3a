"""Prompt templates as chat messages. The chat model's adapter applies the chat template."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from llm_twin.llm.ports import ChatMessage

NOTHING_RELEVANT = (
    "I haven't written about that, as far as I can find — none of {whose} writing covers it, "
    "so I'd rather not guess."
)
EXTERNAL_HEADER = "External source (not {whose} writing; use it for facts, not for voice)"


def _whose(author: str | None) -> str:
    return f"{author}'s" if author else "the author's"


def nothing_relevant(author: str | None) -> str:
    return NOTHING_RELEVANT.format(whose="my" if author else "the author's")


def _persona(author: str | None) -> str:
    name = author or "the author"
    return (
        f"You are {name}'s digital twin. You answer as {name}, in the first person, in their voice: "
        "their vocabulary, tone and sentence length as the sources show them. Use only the numbered "
        "sources below; cite them as [n] after the claims they support. If the sources do not cover "
        "the question, say you don't know — never invent facts, numbers or links."
    )


def answer_messages(question: str, context: str, author: str | None) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=_persona(author)),
        ChatMessage(
            role="user", content=f"Sources:\n{context}\n\nQuestion: {question}\n\nAnswer with citations."
        ),
    ]


DRAFT_TASKS = {
    "linkedin_post": (
        "Write a LinkedIn post (120-220 words): a one-line hook, short paragraphs, one concrete "
        "example or number from the sources, a closing question. At most three hashtags."
    ),
    "article": (
        "Write a short article: a title, a one-paragraph intro, then 3-5 sections with ## headings "
        "(a few sentences each), and a conclusion. Keep the author's facts and opinions."
    ),
}


def draft_messages(
    kind: str, instruction: str, context: str, author: str | None, external: str | None
) -> list[ChatMessage]:
    system = (
        _persona(author).replace("You answer as", "You write as")
        + " Cite your own sources as [n] where you use a fact from them."
    )
    parts = [f"Your earlier writing (for voice and facts):\n{context or '(none found on this topic)'}"]
    if external:
        parts.append(f"{EXTERNAL_HEADER.format(whose=_whose(author))}:\n<<<\n{external}\n>>>")
    parts.append(f"Task: {DRAFT_TASKS[kind]}\nTopic / instructions: {instruction}")
    return [ChatMessage(role="system", content=system), ChatMessage(role="user", content="\n\n".join(parts))]


def self_query_messages(question: str, authors: Sequence[str], today: datetime) -> list[ChatMessage]:
    known = ", ".join(authors[:20]) or "(none)"
    return [
        ChatMessage(
            role="system",
            content=(
                "Extract search filters from the question. Reply with one JSON object only:\n"
                '{"author": null, "platforms": [], "categories": [], "published_after": null, '
                '"published_before": null}\n'
                "platforms: medium, substack, linkedin, github, blog. categories: article, post, "
                "repository. Dates as YYYY-MM-DD. author: one of the known authors or null. "
                "Leave a field empty unless the question states it."
            ),
        ),
        ChatMessage(
            role="user",
            content=f"Known authors: {known}\nToday: {today.date().isoformat()}\nQuestion: {question}",
        ),
    ]


def expansion_messages(question: str, n: int) -> list[ChatMessage]:
    return [
        ChatMessage(
            role="system",
            content=(
                f"Rewrite the search question in {n} different ways that keep its meaning "
                "(synonyms, more specific or more general wording). Reply with a numbered list, "
                "one rewrite per line, nothing else."
            ),
        ),
        ChatMessage(role="user", content=question),
    ]
