"""The LLM's part of dataset building: an instruction per extract, and a draft per instruction.

**Instruction** (the LLM-Twin approach): the LLM reads an extract of the author's writing and writes
the request that extract answers; the training row is ``(instruction, the author's own words)``. The
reply must be one JSON object ``{"instruction": "..."}`` validated by :class:`InstructionReply` (3-60
words, a request: it opens with an imperative or question word or ends with "?", no template
placeholders) and must not repeat 12 words in a row of the extract. What happens to a reply (the
counter names are the keys of the dataset card's ``errors``):

1. valid JSON, valid instruction → used as is;
2. otherwise *repaired* when possible: the first JSON object in prose or a code fence (``first_json``:
   trailing commas, single quotes, ``None``), an alias key (``prompt``, ``question``, ``request``,
   ``task``, ``query``), the object's only string value or a nested object, the complete first value
   of an object the token limit cut off, or, with no JSON at all, the reply's first line when it reads
   as a request (``Instruction:`` prefix, quotes and markdown stripped) → ``instruction.repaired``;
3. otherwise the attempt failed (``instruction.malformed_reply``: no usable JSON object or line;
   ``instruction.invalid_reply``: a JSON instruction that fails validation; ``instruction.llm_error``:
   the call raised, whatever the exception) and the next attempt shows the model its reply and the
   reason (``max_attempts`` in all; transient errors back off briefly);
4. when every attempt failed, a rule-based instruction from the document's metadata is used ("Write the
   part of your article "T" about S.", "Write a LinkedIn post that opens: ...") →
   ``instruction.fallback``. An extract is never lost to a bad reply, and no exception escapes one item.

**Draft** (the rejected side of a preference pair): the same LLM answers the instruction *without*
seeing the extract. An attempt that raises (``draft.llm_error``) or answers nothing (``draft.empty``)
is retried; when all fail the pair is dropped (``draft.failed``).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from llm_twin.errors import TransientLlmError
from llm_twin.llm.ports import ChatMessage, ChatModel, GenerationParams
from llm_twin.rag.parsing import first_json
from training.datasets.extracts import Extract
from training.datasets.quality import normalise

InstructionSource = Literal["llm", "repaired", "fallback"]
ALIAS_KEYS = ("instruction", "prompt", "question", "request", "task", "query")
MIN_INSTRUCTION_WORDS = 3
MAX_INSTRUCTION_WORDS = 60
TRANSIENT_BACKOFF_S = 1.0
COPY_RUN_WORDS = 12  # an instruction repeating this many words in a row of the extract copies it
REPLY_ECHO_CHARS = 300  # how much of a bad reply the retry shows the model

_REQUEST_START = re.compile(
    r"^(?:please\s+)?(?:write|draft|compose|create|explain|describe|tell|share|give|summari[sz]e|outline|"
    r"list|discuss|argue|make|present|walk|show|teach|offer|recount|reflect|introduce|announce|document|"
    r"detail|provide|suggest|recommend|compare|analy[sz]e|how|what|why|when|where|which|who|should|can|"
    r"could|would|is|are|do|does|did)\b",
    re.I,
)
_PLACEHOLDER = re.compile(r"\{\{|\}\}|<[a-z_]+>|\[(?:title|topic|insert)[^\]]*\]", re.I)
_LINE_PREFIX = re.compile(
    r"^\s*(?:[-*>#]+\s*)?(?:\*\*)?(?:instruction|prompt|request|task)\s*:\s*(?:\*\*)?\s*", re.I
)
_WORDS = re.compile(r"\S+")
_TRUNCATED_VALUE = re.compile(
    r'"(?:instruction|prompt|question|request|task|query)"\s*:\s*"((?:[^"\\]|\\.)*)"'
)

SYSTEM_PROMPT = (
    "You write the instruction that a passage answers: the request a reader would make to get exactly "
    "this passage written by its author. One sentence, imperative or a question, about the passage's "
    "topic and point, never quoting it. Reply with one JSON object only: "
    '{"instruction": "..."}'
)
EXAMPLE_PASSAGE = (
    "We ran nightly jobs from cron on one box for three years. Then the box died on a Sunday and nobody "
    "knew which jobs had run. We moved everything to a scheduler with retries and alerts, and the on-call "
    "rota got quieter overnight."
)
EXAMPLE_REPLY = (
    '{"instruction": "Write a short post about why your team replaced cron jobs on a single server with '
    'a managed scheduler."}'
)
DRAFT_SYSTEM_PROMPT = "You are a writer. Write the requested text directly, in markdown, with no preamble."
CATEGORY_NOUN = {"article": "article", "post": "post", "repository": "project documentation"}


class ReplyError(ValueError):
    def __init__(self, reason: Literal["malformed_reply", "invalid_reply"], detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class InstructionReply(BaseModel):
    """The structured output of the instruction prompt."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    instruction: str

    @field_validator("instruction")
    @classmethod
    def _a_request(cls, value: str) -> str:
        value = " ".join(value.split()).strip("\"'` *")
        words = len(_WORDS.findall(value))
        if words < MIN_INSTRUCTION_WORDS:
            raise ValueError(f"too short ({words} words)")
        if words > MAX_INSTRUCTION_WORDS:
            raise ValueError(f"too long ({words} words)")
        if _PLACEHOLDER.search(value):
            raise ValueError("contains a template placeholder")
        if not (_REQUEST_START.match(value) or value.endswith("?")):
            raise ValueError("not a request (start with an imperative such as 'Write', or ask a question)")
        return value


def _copied(instruction: str, extract: str, run: int = COPY_RUN_WORDS) -> bool:
    """True when the instruction repeats ``run`` consecutive words of the extract (it gives the answer
    away instead of asking for it)."""
    words = normalise(instruction).split()
    if len(words) < run:
        return False
    source = normalise(extract).split()
    grams = {tuple(source[i : i + run]) for i in range(len(source) - run + 1)}
    return any(tuple(words[i : i + run]) in grams for i in range(len(words) - run + 1))


def _candidate(data: dict) -> tuple[object, bool]:
    """The instruction value of a JSON object and whether it took a repair to find it."""
    if isinstance(data.get("instruction"), str):
        return data["instruction"], False
    for key in ALIAS_KEYS[1:]:
        if isinstance(data.get(key), str):
            return data[key], True
    strings = [v for v in data.values() if isinstance(v, str)]
    if len(strings) == 1:
        return strings[0], True
    for value in data.values():  # {"output": {"instruction": "..."}}
        if isinstance(value, dict):
            inner, _ = _candidate(value)
            if isinstance(inner, str):
                return inner, True
    return None, True


def _validated(value: str, extract: str, reason: Literal["malformed_reply", "invalid_reply"]) -> str:
    try:
        instruction = InstructionReply(instruction=value).instruction
    except ValidationError as exc:
        raise ReplyError(reason, _reason(exc)) from exc
    if _copied(instruction, extract):
        raise ReplyError(reason, "the instruction copies the passage")
    return instruction


def parse_instruction(reply: str, extract: str) -> tuple[str, bool]:
    """``(instruction, repaired)`` from a reply, or :class:`ReplyError` with the reason."""
    text = reply.strip()
    strict: object = None
    with contextlib.suppress(ValueError):
        strict = json.loads(text)
    data = strict if isinstance(strict, dict) else first_json(text)
    if isinstance(data, dict):
        value, repaired = _candidate(data)
        if not isinstance(value, str):
            raise ReplyError("malformed_reply", "the JSON object has no instruction string")
        return _validated(value, extract, "invalid_reply"), repaired or strict is not data
    truncated = _TRUNCATED_VALUE.search(text)  # an object cut off by the token limit: its first value
    cut: object = None
    if truncated is not None:
        with contextlib.suppress(ValueError):  # only the JSON string decoding may fail here
            cut = json.loads(f'"{truncated.group(1)}"')
    if isinstance(cut, str):
        return _validated(cut, extract, "invalid_reply"), True
    line = next((ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("```")), "")
    try:
        return _validated(_LINE_PREFIX.sub("", line), extract, "malformed_reply"), True
    except ReplyError as exc:
        raise ReplyError("malformed_reply", f"no JSON object and no request line ({exc.detail})") from exc


def _reason(exc: ValidationError) -> str:
    return "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())


def fallback_instruction(extract: Extract) -> str:
    """The rule-based instruction: what the extract is, from its document's metadata."""
    document = extract.document
    title = " ".join(document.title.split())
    if len(_WORDS.findall(title)) > 20:
        title = " ".join(_WORDS.findall(title)[:20]) + "…"
    category = str(document.category)
    platform = str(document.platform)
    if category == "repository" and extract.kind == "code":
        path, project = document.metadata.get("path", title), document.metadata.get("repo", "the project")
        part = f" (part {extract.index + 1})" if extract.index else ""
        return f"Write the code of {path} in {project}{part}."
    if category == "repository":
        project = document.metadata.get("repo") or title
        topic = f" about {extract.section}" if extract.section else ""
        return f"Write the part of the {project} documentation{topic}."
    noun = f"{'LinkedIn ' if platform == 'linkedin' else ''}{CATEGORY_NOUN.get(category, category)}"
    if extract.section:
        return f'Write the part of your {noun} "{title}" about {extract.section}.'
    if extract.index > 0:
        return f'Write part {extract.index + 1} of your {noun} "{title}".'
    if platform == "linkedin":
        return f"Write a LinkedIn post that opens: {title}"
    return f'Write the opening of your {noun} "{title}".'


def passage_message(extract: Extract) -> str:
    document = extract.document
    return f'Passage ({document.category}, "{document.title}"):\n"""\n{extract.text}\n"""'


def instruction_messages(extract: Extract) -> list[ChatMessage]:
    """System prompt, one worked example (small models follow a shown format far better), the passage."""
    example = f'Passage (post, "Why we moved off cron"):\n"""\n{EXAMPLE_PASSAGE}\n"""'
    return [
        ChatMessage(role="system", content=SYSTEM_PROMPT),
        ChatMessage(role="user", content=example),
        ChatMessage(role="assistant", content=EXAMPLE_REPLY),
        ChatMessage(role="user", content=passage_message(extract)),
    ]


def retry_messages(messages: Sequence[ChatMessage], reply: str, reason: str) -> list[ChatMessage]:
    echo = reply.strip()[:REPLY_ECHO_CHARS] or "(an empty reply)"
    return [
        *messages,
        ChatMessage(role="assistant", content=echo),
        ChatMessage(
            role="user",
            content=f"That reply cannot be used: {reason}. Reply again with only the JSON object "
            '{"instruction": "Write ..."} for the passage above.',
        ),
    ]


def draft_messages(instruction: str, system: str | None = None) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=system or DRAFT_SYSTEM_PROMPT),
        ChatMessage(role="user", content=instruction),
    ]


@dataclass
class GeneratedInstruction:
    extract: Extract
    instruction: str
    source: InstructionSource
    attempts: int


@dataclass
class GenerationStats:
    """Thread-safe counters: ``errors`` go to the dataset card, ``outcomes`` to the build report.

    ``calls`` counts every LLM call, the ones that raised (timeouts, errors) included; those are also
    counted in ``failed_calls``. ``seconds`` is the time spent in all calls; ``completion_tokens`` and
    ``models`` come from the calls that answered.
    """

    errors: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    failed_calls: int = 0
    seconds: float = 0.0
    completion_tokens: int = 0
    models: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def error(self, reason: str) -> None:
        with self._lock:
            self.errors[reason] += 1

    def outcome(self, name: str) -> None:
        with self._lock:
            self.outcomes[name] += 1

    def call(self, seconds: float, model: str | None, tokens: int | None) -> None:
        with self._lock:
            self.calls += 1
            self.seconds += seconds
            self.completion_tokens += tokens or 0
            if model:
                self.models[model] += 1

    def failed_call(self, seconds: float) -> None:
        with self._lock:
            self.calls += 1
            self.failed_calls += 1
            self.seconds += seconds


class Generator:
    """Instructions and drafts from one ChatModel, with bounded retries, repair and fallback."""

    def __init__(
        self,
        chat_model: ChatModel,
        *,
        instruction_max_tokens: int = 64,
        draft_max_tokens: int = 384,
        max_attempts: int = 2,
        repetition_penalty: float = 1.1,
        draft_system: str | None = None,
        stats: GenerationStats | None = None,
        sleep: float = TRANSIENT_BACKOFF_S,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.model = chat_model
        self.max_attempts = max_attempts
        self.instruction_params = GenerationParams(
            max_new_tokens=instruction_max_tokens, temperature=0.0, repetition_penalty=repetition_penalty
        )
        self.draft_params = GenerationParams(
            max_new_tokens=draft_max_tokens, temperature=0.0, repetition_penalty=repetition_penalty
        )
        self.draft_system = draft_system
        self.stats = stats or GenerationStats()
        self._sleep = sleep

    @property
    def model_name(self) -> str:
        """The model the generations named most often (servers name the model they loaded)."""
        if self.stats.models:
            return self.stats.models.most_common(1)[0][0]
        return str(getattr(self.model, "model_name", type(self.model).__name__))

    def _call(self, messages: Sequence[ChatMessage], params: GenerationParams) -> str:
        started = time.perf_counter()
        try:
            generation = self.model.generate(messages, params)
        except BaseException:
            self.stats.failed_call(time.perf_counter() - started)
            raise
        self.stats.call(time.perf_counter() - started, generation.model, generation.completion_tokens)
        return generation.text or ""

    def _failed_call(self, phase: str, exc: Exception, attempt: int) -> None:
        self.stats.error(f"{phase}.llm_error")
        if isinstance(exc, TransientLlmError) and attempt < self.max_attempts and self._sleep:
            time.sleep(self._sleep * attempt)

    def instruction(self, extract: Extract) -> GeneratedInstruction:
        """The instruction for one extract; never raises for a bad reply or a failing LLM."""
        base = instruction_messages(extract)
        messages = base
        for attempt in range(1, self.max_attempts + 1):
            try:
                reply = self._call(messages, self.instruction_params)
            except Exception as exc:  # one item's failure must not stop the batch
                self._failed_call("instruction", exc, attempt)
                messages = base
                continue
            try:
                instruction, repaired = parse_instruction(reply, extract.text)
            except ReplyError as exc:
                self.stats.error(f"instruction.{exc.reason}")
                messages = retry_messages(base, reply, exc.detail)
                continue
            source: InstructionSource = "repaired" if repaired else "llm"
            self.stats.outcome(source)
            if repaired:
                self.stats.error("instruction.repaired")
            return GeneratedInstruction(extract, instruction, source, attempt)
        self.stats.error("instruction.fallback")
        self.stats.outcome("fallback")
        return GeneratedInstruction(extract, fallback_instruction(extract), "fallback", self.max_attempts)

    def draft(self, instruction: str, max_tokens: int | None = None) -> str | None:
        """A draft answer to ``instruction`` (the extract unseen), or None when every attempt failed."""
        params = self.draft_params
        if max_tokens is not None:
            params = params.model_copy(
                update={"max_new_tokens": max(1, min(max_tokens, params.max_new_tokens))}
            )
        messages = draft_messages(instruction, self.draft_system)
        for attempt in range(1, self.max_attempts + 1):
            try:
                text = self._call(messages, params).strip()
            except Exception as exc:  # one item's failure must not stop the batch
                self._failed_call("draft", exc, attempt)
                continue
            if text:
                self.stats.outcome("draft")
                return text
            self.stats.error("draft.empty")
        self.stats.error("draft.failed")
        return None
