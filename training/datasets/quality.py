"""Quality filters and the split: exact and near-duplicate removal, a language heuristic, similarity,
and the train/test split by source document.

- **Exact duplicates**: the SHA-256 of the normalised text (NFKC, lower case, whitespace collapsed,
  punctuation dropped); the first item in input order wins.
- **Near duplicates**: MinHash over word 5-gram shingles (``datasketch``, 128 permutations) and LSH at a
  Jaccard threshold (default 0.8); an item is dropped when the LSH finds an earlier kept item whose
  *exact* shingle Jaccard is at or above the threshold (the LSH only proposes candidates).
- **Language**: a heuristic, not a language model: outside code, at least 90% of the letters are ASCII
  and, in a text of 8 or more words, at least 15% of the words are among 88 common English stopwords
  (the sample author's 120-400-word extracts run at 33-52%, a 27-word one at 18%; German or Spanish
  prose at 0-5%; unfenced code ~25%).
  It is only meant to catch drafts in the wrong language or degenerate output.
- **Split**: a document goes to test when the first 8 bytes of SHA-256(``seed:document_id``), read as a
  fraction of 2^64, are below ``test_ratio``; with two or more documents, at least one goes to each
  side (the lowest hash is moved to test, or the highest to train). Every row follows its document,
  so no test row shares a document with a training row.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from llm_twin.features.cleaning import split_fenced

T = TypeVar("T")

SHINGLE_WORDS = 5
NUM_PERM = 128
NEAR_DUPLICATE_THRESHOLD = 0.8
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LETTER = re.compile(r"[^\W\d_]")
_STOPWORDS = (
    "a about after all also an and any are as at be because been but by can could did do does for from had "
    "has have he her his how i if in into is it its just like more most my no not now of on one only or our "
    "out over so some such than that the their them then there these they this to too up us very was we "
    "were what when where which while who why will with would you your"
)
STOPWORDS = frozenset(_STOPWORDS.split())


def normalise(text: str) -> str:
    """The comparison form of a text: NFKC, lower case, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text)).strip()


def text_hash(*parts: str) -> str:
    """SHA-256 hex of the normalised parts (joined by a separator no normalised text contains)."""
    return hashlib.sha256("\x1f".join(normalise(p) for p in parts).encode()).hexdigest()


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    words = normalise(text).split()
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def similarity(a: str, b: str, size: int = SHINGLE_WORDS) -> float:
    """Exact Jaccard similarity of the two texts' word shingles (0..1)."""
    return jaccard(shingles(a, size), shingles(b, size))


def exact_dedupe(items: Sequence[T], key: Callable[[T], str]) -> tuple[list[T], int]:
    """Items whose normalised ``key`` text was not seen before; returns (kept, removed)."""
    seen: set[str] = set()
    kept: list[T] = []
    for item in items:
        digest = text_hash(key(item))
        if digest not in seen:
            seen.add(digest)
            kept.append(item)
    return kept, len(items) - len(kept)


def near_dedupe(
    items: Sequence[T],
    key: Callable[[T], str],
    threshold: float = NEAR_DUPLICATE_THRESHOLD,
    num_perm: int = NUM_PERM,
) -> tuple[list[T], int]:
    """Items with no earlier kept item at or above ``threshold`` shingle Jaccard; (kept, removed)."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: list[T] = []
    kept_shingles: list[set[str]] = []
    for item in items:
        grams = shingles(key(item))
        signature = MinHash(num_perm=num_perm, seed=1)
        signature.update_batch(g.encode() for g in grams)
        duplicate = any(
            jaccard(grams, kept_shingles[int(candidate)]) >= threshold for candidate in lsh.query(signature)
        )
        if duplicate:
            continue
        lsh.insert(str(len(kept)), signature)
        kept.append(item)
        kept_shingles.append(grams)
    return kept, len(items) - len(kept)


def prose_of(text: str) -> str:
    """``text`` without fenced code blocks and inline code spans."""
    prose = "\n".join("\n".join(lines) for is_code, lines in split_fenced(text) if not is_code)
    return _INLINE_CODE.sub(" ", prose)


def looks_english(text: str, min_ascii: float = 0.9, min_stopwords: float = 0.15) -> bool:
    """The language heuristic (see the module docstring); True when there is too little to judge."""
    prose = prose_of(text)
    letters = _LETTER.findall(prose)
    if letters and sum(c.isascii() for c in letters) / len(letters) < min_ascii:
        return False
    words = normalise(prose).split()
    if len(words) < 8:
        return True
    return sum(w in STOPWORDS for w in words) / len(words) >= min_stopwords


def repetitive(text: str, max_repeat: float = 0.5) -> bool:
    """True when over ``max_repeat`` of the text's word 3-grams are repeats (degenerate loops)."""
    words = normalise(text).split()
    if len(words) < 12:
        return False
    grams = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    return 1 - len(set(grams)) / len(grams) > max_repeat


def document_fraction(document_id: str, seed: str = "split") -> float:
    digest = hashlib.sha256(f"{seed}:{document_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_documents(document_ids: Iterable[str], test_ratio: float, seed: str = "split") -> dict[str, str]:
    """``{document_id: "train" | "test"}`` (see the module docstring)."""
    if not 0.0 <= test_ratio < 1.0:
        raise ValueError("test_ratio must be within [0, 1)")
    ranked = sorted(set(document_ids), key=lambda d: (document_fraction(d, seed), d))
    sides = {d: "test" if document_fraction(d, seed) < test_ratio else "train" for d in ranked}
    if len(ranked) >= 2 and test_ratio > 0:
        if "test" not in sides.values():
            sides[ranked[0]] = "test"
        if "train" not in sides.values():
            sides[ranked[-1]] = "train"
    return sides
