"""LLM-as-judge: accuracy and style of a candidate answer against the author's own answer, 1-5 each.

The judge gets the instruction, the author's answer (the reference) and the candidate's answer, and must
reply with one JSON object ``{"accuracy": 1-5, "style": 1-5, "justification": "..."}``. The reply is
validated with pydantic (:class:`JudgeScore`); a malformed reply is repaired when possible (the first
JSON object in prose or a code fence with ``rag.parsing.first_json``'s repairs, alias keys, ``"4/5"`` or
``"4"`` strings, ``Accuracy: 4`` lines), otherwise retried once with the reason; a reply that is still
unusable is *counted* (``failures``), never a crash and never a made-up score. Scores outside 1-5 are
invalid, not clamped (a judge answering on a 1-10 scale would otherwise bias the mean).

Locally the judge is the base SmolLM2-135M: a **weak judge** (it rarely follows the format and its scores
barely depend on the answers); its numbers say the pipeline works, not how good a model is. On AWS the
judge is Bedrock (``LLM_TWIN_BEDROCK_CHAT_MODEL_ID``, the workflow's ``judgeModelId``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_twin.errors import LlmError
from llm_twin.llm.ports import ChatMessage, ChatModel, GenerationParams
from llm_twin.rag.parsing import first_json

log = logging.getLogger(__name__)

JUDGE_SYSTEM = (
    "You grade how well a candidate answer matches an author's own answer to the same request. "
    "accuracy (1-5): does the candidate say what the author says — same facts, claims and advice, nothing "
    "contradicting it (5 = same content, 1 = unrelated or wrong). style (1-5): does it read like the author "
    "— tone, sentence length, vocabulary, structure and formatting (5 = indistinguishable, 1 = a different "
    "voice). Reply with one JSON object only: "
    '{"accuracy": <1-5>, "style": <1-5>, "justification": "<one or two sentences>"}'
)
MAX_REFERENCE_CHARS = 3000
MAX_CANDIDATE_CHARS = 3000
_ALIASES = {
    "accuracy": ("accuracy", "accuracy_score", "score_accuracy", "content", "correctness", "faithfulness"),
    "style": ("style", "style_score", "score_style", "voice", "tone"),
    "justification": ("justification", "reason", "reasoning", "explanation", "rationale", "comment"),
}
_LINE_SCORE = re.compile(r"\b(accuracy|style)\b\W{0,5}(\d(?:\.\d+)?)(?:\s*/\s*(\d+))?", re.I)

Status = Literal["ok", "repaired", "invalid"]


class JudgeScore(BaseModel):
    """A validated verdict: both scores integers in 1..5, a short justification."""

    model_config = ConfigDict(extra="ignore")

    accuracy: int = Field(ge=1, le=5, strict=True)
    style: int = Field(ge=1, le=5, strict=True)
    justification: str = Field("", max_length=1000)


def _score(value: Any) -> Any:
    """``4``, ``4.0``, ``"4"``, ``"4/5"`` → 4; anything else unchanged (validation decides)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.0+)?)\s*(?:/\s*5\s*)?", value)
        if m:
            return int(float(m.group(1)))
    if isinstance(value, Mapping):  # {"accuracy": {"score": 4, "reason": ...}}
        for key in ("score", "value", "rating"):
            if key in value:
                return _score(value[key])
    return value


def _normalise(data: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Alias keys and score strings mapped to the schema; returns (object, whether anything changed)."""
    lowered = {str(k).strip().lower(): v for k, v in data.items()}
    if "scores" in lowered and isinstance(lowered["scores"], Mapping):
        lowered = {**{str(k).lower(): v for k, v in lowered["scores"].items()}, **lowered}
    out: dict[str, Any] = {}
    changed = set(lowered) != set(data)
    for field, names in _ALIASES.items():
        for name in names:
            if name in lowered:
                value = lowered[name]
                if field != "justification":
                    fixed = _score(value)
                    changed |= fixed is not value
                    value = fixed
                elif not isinstance(value, str):
                    value, changed = str(value), True
                changed |= name != field
                out[field] = value
                break
    if isinstance(out.get("justification"), str) and len(out["justification"]) > 1000:
        out["justification"], changed = out["justification"][:1000], True
    return out, changed


def parse_judge_reply(text: str) -> tuple[JudgeScore | None, Status, str]:
    """(score, status, reason): ``ok`` for a strict JSON reply that validates, ``repaired`` when it took
    a repair, ``invalid`` (score None, reason says why) otherwise."""
    stripped = text.strip()
    strict = True
    data: Any
    try:
        data = json.loads(stripped)
    except ValueError:
        strict = False
        data = first_json(stripped)
    if not isinstance(data, Mapping):
        data = None
    if data is None:
        found = {m.group(1).lower(): m for m in _LINE_SCORE.finditer(stripped)}
        if {"accuracy", "style"} <= set(found):
            values: dict[str, Any] = {}
            for key, m in found.items():
                if m.group(3) not in (None, "5"):
                    return None, "invalid", f"{key} is not on a 1-5 scale ({m.group(0)!r})"
                values[key] = _score(m.group(2))
            values["justification"] = stripped[:300]
            data, strict = values, False
        else:
            return None, "invalid", "no JSON object with accuracy and style in the reply"
    normalised, changed = _normalise(data)
    try:
        score = JudgeScore.model_validate(normalised)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()
        )
        return None, "invalid", problems
    return score, "ok" if strict and not changed else "repaired", ""


@dataclass(frozen=True)
class Verdict:
    score: JudgeScore | None
    status: Status
    attempts: int
    reason: str = ""
    reply: str = ""


def judge_messages(instruction: str, reference: str, candidate: str) -> list[ChatMessage]:
    user = (
        f"Request:\n{instruction.strip()}\n\n"
        f'Author\'s answer:\n"""{reference.strip()[:MAX_REFERENCE_CHARS]}"""\n\n'
        f'Candidate answer:\n"""{candidate.strip()[:MAX_CANDIDATE_CHARS] or "(empty)"}"""'
    )
    return [ChatMessage(role="system", content=JUDGE_SYSTEM), ChatMessage(role="user", content=user)]


class Judge:
    """Scores answers with a ChatModel; ``max_attempts`` tries per answer, each retry shows the reply."""

    def __init__(
        self,
        model: ChatModel,
        *,
        max_attempts: int = 2,
        max_new_tokens: int = 160,
        weak: bool = False,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.model = model
        self.max_attempts = max_attempts
        self.params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0)
        self.weak = weak

    @property
    def name(self) -> str:
        return self.model.model_name

    def score(self, instruction: str, reference: str, candidate: str) -> Verdict:
        messages = judge_messages(instruction, reference, candidate)
        reason, reply = "", ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                reply = self.model.generate(messages, self.params).text
            except LlmError as exc:
                reason = f"judge call failed: {exc}"
                log.warning("judge attempt %d: %s", attempt, reason)
                continue
            score, status, reason = parse_judge_reply(reply)
            if score is not None:
                return Verdict(score, status, attempt, reply=reply)
            messages = [
                *messages,
                ChatMessage(role="assistant", content=reply[:300]),
                ChatMessage(
                    role="user",
                    content=f"That reply cannot be used: {reason}. Reply again with only the JSON object "
                    '{"accuracy": <1-5>, "style": <1-5>, "justification": "..."}.',
                ),
            ]
        return Verdict(None, "invalid", self.max_attempts, reason=reason, reply=reply[:300])
