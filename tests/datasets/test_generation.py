"""Malformed LLM output: parsed, repaired, retried, counted, and never fatal to the batch."""

from __future__ import annotations

import json

import pytest

from llm_twin.domain.models import Category, Platform
from llm_twin.errors import LlmError, TransientLlmError
from tests.datasets.factories import ScriptedChatModel, document, prose
from training.datasets.extracts import Extract
from training.datasets.generation import (
    Generator,
    ReplyError,
    fallback_instruction,
    instruction_messages,
    parse_instruction,
)

GOOD = "Write a short post about why your team replaced cron with a managed scheduler."
PASSAGE = prose("passage", 150)


def extract(section: str | None = None, index: int = 0, **kwargs: object) -> Extract:
    return Extract(document("cron-post", PASSAGE, **kwargs), index, PASSAGE, section)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reply", "repaired"),
    [
        (f'{{"instruction": "{GOOD}"}}', False),
        (f'  {{"instruction": "{GOOD}"}}\n', False),
        (f'Sure! Here it is:\n{{"instruction": "{GOOD}"}}\nHope this helps.', True),
        (f'```json\n{{"instruction": "{GOOD}",}}\n```', True),
        ("{'instruction': 'Write a short post about why your team left cron.'}", True),
        (f'{{"prompt": "{GOOD}"}}', True),
        (f'{{"result": {{"instruction": "{GOOD}"}}}}', True),
        (f'{{"instruction": "{GOOD}"}}}}', True),
        (f"Instruction: {GOOD}", True),
        (f'**Instruction:** "{GOOD}"', True),
        ("How did your team get off cron without losing a night of jobs?", True),
        (f'{{"instruction": "{GOOD}", "author": "Nell", "body": "The most imp', True),  # cut off
    ],
)
def test_replies_are_parsed_or_repaired(reply: str, repaired: bool) -> None:
    instruction, was_repaired = parse_instruction(reply, PASSAGE)
    assert instruction.rstrip("?.").split()[-1] in GOOD + " jobs"
    assert was_repaired is repaired


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "malformed_reply"),
        ("The passage has been edited to improve its clarity.", "malformed_reply"),
        ('{"title": "Cron", "author": "Nell"}', "malformed_reply"),
        ('{"instruction": 42}', "malformed_reply"),
        ('{"instruction": "Cron"}', "invalid_reply"),
        ('{"instruction": "A simple example of fine-tuning.", "author": "Ne', "invalid_reply"),
        ('{"instruction": "A simple answer to a complex problem"}', "invalid_reply"),
        ('{"instruction": "Write about {{topic}} for me please"}', "invalid_reply"),
        (json.dumps({"instruction": "Write " + "very " * 70 + "long"}), "invalid_reply"),
    ],
)
def test_unusable_replies_are_rejected_with_a_reason(reply: str, reason: str) -> None:
    with pytest.raises(ReplyError) as caught:
        parse_instruction(reply, PASSAGE)
    assert caught.value.reason == reason


def test_an_instruction_copied_from_the_passage_is_rejected() -> None:
    copied = "Write about " + " ".join(PASSAGE.split()[10:22]) + " please"
    with pytest.raises(ReplyError, match="copies"):
        parse_instruction(f'{{"instruction": "{copied}"}}', PASSAGE)
    with pytest.raises(ReplyError, match="copies"):
        parse_instruction(f"Instruction: {copied}", PASSAGE)
    shorter = "Write about " + " ".join(PASSAGE.split()[10:21]) + " please"  # 11 words in a row: fine
    assert parse_instruction(f'{{"instruction": "{shorter}"}}', PASSAGE)[0] == shorter


def test_valid_reply_is_used_once() -> None:
    model = ScriptedChatModel([f'{{"instruction": "{GOOD}"}}'])
    generator = Generator(model, instruction_max_tokens=32)
    item = generator.instruction(extract())
    assert (item.instruction, item.source, item.attempts) == (GOOD, "llm", 1)
    assert len(model.calls) == 1
    _, messages, params = model.calls[0]
    assert messages == instruction_messages(extract())
    assert PASSAGE in messages[-1].content and params.max_new_tokens == 32 and params.temperature == 0
    assert generator.stats.errors == {}


def test_garbage_then_valid_is_retried_with_the_reason() -> None:
    model = ScriptedChatModel(["I am a teapot.", f'{{"instruction": "{GOOD}"}}'])
    generator = Generator(model, max_attempts=3)
    item = generator.instruction(extract())
    assert (item.source, item.attempts) == ("llm", 2)
    retry = model.calls[1][1]
    assert retry[-2].role == "assistant" and retry[-2].content == "I am a teapot."
    assert "cannot be used" in retry[-1].content
    assert generator.stats.errors == {"instruction.malformed_reply": 1}


def test_exceptions_are_retried_and_counted() -> None:
    model = ScriptedChatModel(
        [TransientLlmError("throttled"), RuntimeError("bug"), f'```\n{{"instruction": "{GOOD}"}}\n```']
    )
    generator = Generator(model, max_attempts=3, sleep=0)
    item = generator.instruction(extract())
    assert (item.source, item.attempts) == ("repaired", 3)
    assert generator.stats.errors == {"instruction.llm_error": 2, "instruction.repaired": 1}


def test_persistent_failure_falls_back_to_a_rule_based_instruction() -> None:
    model = ScriptedChatModel(["nope", LlmError("down"), '{"instruction": "Cron"}'])
    generator = Generator(model, max_attempts=3, sleep=0)
    item = generator.instruction(extract(section="Why cron failed"))
    assert item.source == "fallback"
    assert item.instruction == 'Write the part of your article "Cron Post" about Why cron failed.'
    assert generator.stats.errors == {
        "instruction.malformed_reply": 1,
        "instruction.llm_error": 1,
        "instruction.invalid_reply": 1,
        "instruction.fallback": 1,
    }
    assert len(model.calls) == 3  # bounded


def test_fallback_instructions_per_category() -> None:
    assert fallback_instruction(extract()) == 'Write the opening of your article "Cron Post".'
    assert fallback_instruction(extract(index=2)) == 'Write part 3 of your article "Cron Post".'
    linkedin = extract(category=Category.POST, platform=Platform.LINKEDIN, title="Big news: we shipped")
    assert fallback_instruction(linkedin) == "Write a LinkedIn post that opens: Big news: we shipped"
    repo = extract(
        section="kerf \u203a How it cuts",
        category=Category.REPOSITORY,
        platform=Platform.GITHUB,
        metadata={"repo": "me/kerf", "path": "README.md"},
    )
    assert (
        fallback_instruction(repo)
        == "Write the part of the me/kerf documentation about kerf \u203a How it cuts."
    )
    code = Extract(
        document(
            "split-py",
            "x",
            category=Category.REPOSITORY,
            platform=Platform.GITHUB,
            metadata={"repo": "me/kerf", "path": "kerf/split.py"},
        ),
        1,
        "```python\npass\n```",
        kind="code",
    )
    assert fallback_instruction(code) == "Write the code of kerf/split.py in me/kerf (part 2)."
    for item in (extract(), linkedin, repo, code):  # every fallback passes the validation of LLM output
        parse_instruction(json.dumps({"instruction": fallback_instruction(item)}), "x")


def test_drafts_retry_empty_and_failing_calls() -> None:
    model = ScriptedChatModel([GOOD], draft_replies=["", RuntimeError("x"), "A draft."])
    generator = Generator(model, max_attempts=3, sleep=0, draft_max_tokens=100)
    assert generator.draft(GOOD, max_tokens=40) == "A draft."
    assert [p.max_new_tokens for _, _, p in model.calls] == [40, 40, 40]
    assert generator.stats.errors == {"draft.empty": 1, "draft.llm_error": 1}

    dead = Generator(ScriptedChatModel([GOOD], draft_replies=[LlmError("down")]), max_attempts=2, sleep=0)
    assert dead.draft(GOOD) is None
    assert dead.stats.errors == {"draft.llm_error": 2, "draft.failed": 1}


def test_every_call_is_counted_failed_ones_too() -> None:
    model = ScriptedChatModel(
        [TransientLlmError("read timeout"), f'{{"instruction": "{GOOD}"}}'],
        draft_replies=[RuntimeError("x"), "", "A draft."],
    )
    generator = Generator(model, max_attempts=3, sleep=0)
    assert generator.instruction(extract()).source == "llm"
    assert generator.draft(GOOD) == "A draft."
    stats = generator.stats
    assert len(model.calls) == 5
    assert (stats.calls, stats.failed_calls) == (5, 2)  # the timeout and the error are calls too
    assert stats.completion_tokens == len(f'{{"instruction": "{GOOD}"}}'.split()) + 2  # answered calls


def test_generator_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError):
        Generator(ScriptedChatModel([GOOD]), max_attempts=0)
