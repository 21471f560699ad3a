"""Judge replies: strict JSON, fenced, prose-wrapped, aliases, out of range, garbage; retries."""

from __future__ import annotations

import pytest

from llm_twin.errors import LlmError
from llm_twin.llm.ports import ChatMessage, Generation, GenerationParams
from tests.evaluate.conftest import ScriptedModel
from training.evaluate.judge import Judge, JudgeScore, judge_messages, parse_judge_reply

GOOD = '{"accuracy": 4, "style": 3, "justification": "Same advice, plainer tone."}'


def test_strict_json_is_ok() -> None:
    score, status, reason = parse_judge_reply(GOOD)
    assert score == JudgeScore(accuracy=4, style=3, justification="Same advice, plainer tone.")
    assert (status, reason) == ("ok", "")


@pytest.mark.parametrize(
    "reply",
    [
        f"```json\n{GOOD}\n```",
        f"Here is my verdict:\n{GOOD}\nHope this helps.",
        '{"accuracy": "4", "style": "3/5", "justification": "ok"}',
        '{"Accuracy_Score": 4.0, "style": 3, "reason": "ok",}',
        '{"scores": {"accuracy": 4, "style": 3}, "explanation": "ok"}',
        "{'accuracy': 4, 'style': 3, 'justification': 'single quotes'}",
        "Accuracy: 4/5\nStyle: 3\nThe candidate repeats the advice in a flatter voice.",
    ],
)
def test_repairable_replies(reply: str) -> None:
    score, status, _ = parse_judge_reply(reply)
    assert score is not None and (score.accuracy, score.style) == (4, 3)
    assert status == "repaired"


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ('{"accuracy": 7, "style": 3, "justification": "x"}', "accuracy"),
        ('{"accuracy": 0, "style": 3}', "accuracy"),
        ('{"accuracy": 4, "style": 9.5}', "style"),
        ('{"accuracy": 4}', "style"),
        ('{"accuracy": true, "style": 3}', "accuracy"),
        ("Accuracy: 8/10, style: 6/10", "1-5 scale"),
        ("The answer is quite good and matches the author's voice.", "no JSON"),
        ("", "no JSON"),
        ('{"accuracy": 4, "style": ', "no JSON"),
        ("[4, 3]", "no JSON"),
    ],
)
def test_unusable_replies_are_invalid_not_errors(reply: str, why: str) -> None:
    score, status, reason = parse_judge_reply(reply)
    assert score is None and status == "invalid"
    assert why in reason


def test_long_justification_is_cut_not_rejected() -> None:
    score, status, _ = parse_judge_reply('{"accuracy": 2, "style": 2, "justification": "' + "x" * 5000 + '"}')
    assert score is not None and len(score.justification) == 1000 and status == "repaired"


def test_judge_retries_once_with_the_reason_then_counts_a_failure() -> None:
    model = ScriptedModel(["no idea", GOOD])
    verdict = Judge(model).score("Write about X.", "The author's text.", "A candidate.")
    assert verdict.score is not None and verdict.attempts == 2 and verdict.status == "ok"
    retry = model.calls[1]
    assert retry[-2].role == "assistant" and retry[-2].content == "no idea"
    assert "cannot be used" in retry[-1].content

    failing = Judge(ScriptedModel(["garbage"]), max_attempts=2).score("i", "r", "c")
    assert failing.score is None and failing.status == "invalid" and failing.attempts == 2
    assert "no JSON" in failing.reason


def test_judge_survives_llm_errors() -> None:
    class Broken:
        model_name = "broken"

        def generate(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Generation:
            raise LlmError("AccessDeniedException")

    verdict = Judge(Broken()).score("i", "r", "c")
    assert verdict.score is None and "AccessDenied" in verdict.reason


def test_prompt_holds_the_three_texts_and_the_rubric() -> None:
    system, user = judge_messages("Write about cold starts.", "Keep it small.", "")
    assert "accuracy (1-5)" in system.content and '"justification"' in system.content
    assert "Write about cold starts." in user.content and "Keep it small." in user.content
    assert "(empty)" in user.content
