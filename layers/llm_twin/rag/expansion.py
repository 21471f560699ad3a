"""Query expansion: N alternative phrasings from the LLM, parsed robustly; the original always first."""

from __future__ import annotations

import re
from collections.abc import Sequence

from llm_twin.errors import LlmTwinError
from llm_twin.llm.ports import ChatModel, GenerationParams
from llm_twin.rag import prompts
from llm_twin.rag.parsing import first_json

_MARKER = re.compile(r"^\s*(?:[-*•·]+|\(?\d{1,2}[.):\]]|\(?[a-z][.)])\s*", re.I)
_LABEL = re.compile(r"^(?:query|rewrite|alternative|version|option)\s*\d*\s*[:.-]\s*", re.I)
MAX_CHARS = 300


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _clean(line: str) -> str:
    line = _MARKER.sub("", line.strip())
    line = _LABEL.sub("", line)
    line = line.strip().strip("\"'`\u201c\u201d\u2018\u2019").strip()
    return line


def parse_alternatives(text: str, original: str, n: int) -> list[str]:
    """Up to ``n`` distinct rephrasings from a reply: a JSON array, a numbered or bulleted list, or
    plain lines. Preambles ("Here are ...:"), duplicates and copies of the original are dropped."""
    if n <= 0 or not text.strip():
        return []
    data = first_json(text, "[")
    if isinstance(data, list) and all(isinstance(item, str) for item in data) and data:
        lines: Sequence[str] = data
    else:
        lines = text.splitlines()
    seen = {_norm(original)}
    result: list[str] = []
    for raw in lines:
        line = _clean(raw)
        if not line or line.endswith(":") or len(line) > MAX_CHARS or len(_norm(line)) < 3:
            continue
        if re.match(
            r"^(?:here are|sure|certainly|alternative|rewrites?)\b", line, re.I
        ) and not line.endswith("?"):
            continue
        key = _norm(line)
        if key in seen:
            continue
        seen.add(key)
        result.append(line)
        if len(result) == n:
            break
    return result


class QueryExpander:
    def __init__(self, chat_model: ChatModel | None, n: int = 3, *, max_tokens: int = 160) -> None:
        self._model = chat_model
        self._n = n
        self._params = GenerationParams(max_new_tokens=max_tokens, temperature=0.0)

    def expand(self, query: str, notes: list[str] | None = None) -> list[str]:
        """``[query, *alternatives]``; just ``[query]`` when expansion is off or fails."""
        if self._model is None or self._n <= 0:
            return [query]
        try:
            reply = self._model.generate(prompts.expansion_messages(query, self._n), self._params).text
        except LlmTwinError as exc:
            if notes is not None:
                notes.append(f"expansion: LLM failed ({exc}); original query only")
            return [query]
        return [query, *parse_alternatives(reply, query, self._n)]
