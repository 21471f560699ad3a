"""Style measures that need no judge.

- **Embedding similarity**: cosine of the MiniLM embeddings (``features.embedding.local``, unit vectors)
  of each candidate answer and the author's answer to the same instruction, averaged over rows.
- **Stylometry distance**: a profile of a body of text — sentence length mean and standard deviation
  (words), type-token ratio (over the first ``TTR_WINDOW`` words, so lengths compare), average word length,
  and punctuation per 1 000 characters (``, . ; : ! ? - ( " '`` and newlines) — computed for all candidate
  answers together and for all the author's answers together. The distance is the mean absolute
  difference of the features, each divided by the author's value (a relative L1, floor ``SCALE_FLOOR``
  so a feature the author never uses does not divide by zero); 0 = the same profile. The L2 form is
  reported too.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from typing import Any, Protocol

PUNCTUATION = {
    "comma": ",",
    "period": ".",
    "semicolon": ";",
    "colon": ":",
    "exclamation": "!",
    "question": "?",
    "dash": "-",
    "paren": "(",
    "quote": '"',
    "apostrophe": "'",
    "newline": "\n",
}
TTR_WINDOW = 400
SCALE_FLOOR = 1.0
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n{2,}|\n(?=\s*(?:[-*+]|\d+\.)\s)")


class Embedder(Protocol):
    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...


def sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if _WORD.search(s)]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def profile(texts: Sequence[str]) -> dict[str, float]:
    """The stylometric profile of ``texts`` taken together (empty texts give zeros)."""
    joined = "\n\n".join(t.strip() for t in texts if t.strip())
    lengths = [len(words(s)) for t in texts for s in sentences(t)]
    tokens = words(joined)
    window = [w.lower() for w in tokens[:TTR_WINDOW]]
    chars = max(len(joined), 1)
    result = {
        "sentence_words_mean": statistics.fmean(lengths) if lengths else 0.0,
        "sentence_words_sd": statistics.pstdev(lengths) if len(lengths) > 1 else 0.0,
        "type_token_ratio": len(set(window)) / len(window) if window else 0.0,
        "word_chars_mean": statistics.fmean(len(w) for w in tokens) if tokens else 0.0,
    }
    for name, mark in PUNCTUATION.items():
        result[f"per_1k_{name}"] = 1000.0 * joined.count(mark) / chars
    return {k: round(v, 4) for k, v in result.items()}


def profile_distance(candidate: dict[str, float], reference: dict[str, float]) -> dict[str, float]:
    """Relative L1 (mean) and L2 (root mean square) distance of two profiles over the reference's keys."""
    diffs = [
        abs(candidate.get(key, 0.0) - value) / max(abs(value), SCALE_FLOOR)
        for key, value in reference.items()
    ]
    if not diffs:
        return {"l1": 0.0, "l2": 0.0}
    return {
        "l1": round(sum(diffs) / len(diffs), 4),
        "l2": round(math.sqrt(sum(d * d for d in diffs) / len(diffs)), 4),
    }


def stylometry(candidates: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    cand, ref = profile(candidates), profile(references)
    return {"candidate": cand, "author": ref, "distance": profile_distance(cand, ref)}


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def embedding_similarities(
    embedder: Embedder, candidates: Sequence[str], references: Sequence[str]
) -> list[float]:
    """Cosine of each candidate with its reference (an empty candidate scores 0)."""
    if len(candidates) != len(references):
        raise ValueError("candidates and references must pair up")
    if not candidates:
        return []
    vectors = embedder.embed_documents([*candidates, *references])
    n = len(candidates)
    return [round(cosine(vectors[i], vectors[n + i]), 4) if candidates[i].strip() else 0.0 for i in range(n)]
