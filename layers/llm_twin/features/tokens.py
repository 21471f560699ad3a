"""Token counting against the embedder's real bound.

all-MiniLM-L6-v2 truncates its input at ``max_seq_length`` = 256 word pieces, [CLS] and [SEP]
included: anything longer is silently cut. The chunker therefore counts with the model's own
WordPiece tokenizer, loaded through the light ``tokenizers`` wheel (no torch, no transformers, so the
same code runs in the feature Lambda). The tokenizer file ships in ``features/assets/``.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of the model; a test checks it
SPECIAL_TOKENS = 2  # [CLS] ... [SEP]
TOKENIZER_ASSET = "all-minilm-l6-v2.tokenizer.json"
CACHE_MAX_CHARS = 8192


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the embedder will see them, special tokens excluded."""

    @property
    def max_tokens(self) -> int:
        """The most tokens a text may have without being truncated by the embedder."""
        ...

    def count(self, text: str) -> int: ...


class WordPieceCounter:
    """Exact counts for all-MiniLM-L6-v2 (or any BERT-style ``tokenizer.json``).

    The tokenizer loads on first use (thread-safe) and counts are memoised. Construction does no I/O.
    """

    def __init__(
        self,
        tokenizer_file: str | Path | None = None,
        *,
        max_seq_length: int = MODEL_MAX_SEQ_LENGTH,
        special_tokens: int = SPECIAL_TOKENS,
        cache_size: int = 16_384,
    ) -> None:
        if max_seq_length <= special_tokens:
            raise ValueError("max_seq_length must leave room for at least one token")
        self._file = Path(tokenizer_file) if tokenizer_file is not None else None
        self._max_tokens = max_seq_length - special_tokens
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()
        self._cached_count = lru_cache(maxsize=cache_size)(self._count)

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def loaded(self) -> bool:
        return self._tokenizer is not None

    def count(self, text: str) -> int:
        if not text:
            return 0
        if len(text) > CACHE_MAX_CHARS:  # long texts are rarely recounted; do not pin them in memory
            return self._count(text)
        return self._cached_count(text)

    def _count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    @property
    def tokenizer(self) -> Tokenizer:
        tokenizer = self._tokenizer
        if tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    self._tokenizer = _load(self._file)
                tokenizer = self._tokenizer
        return tokenizer


def _load(path: Path | None) -> Tokenizer:
    from tokenizers import Tokenizer

    if path is None:
        asset = resources.files("llm_twin.features").joinpath("assets", TOKENIZER_ASSET)
        tokenizer = Tokenizer.from_str(asset.read_text(encoding="utf-8"))
    else:
        tokenizer = Tokenizer.from_file(str(path))
    # The shipped file truncates and pads to 128 (the model's training length): counting with it as
    # is would report min(n, 128) for every text. Counts must be the untruncated length.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


_default_lock = threading.Lock()
_default: WordPieceCounter | None = None


def default_counter() -> WordPieceCounter:
    """The process-wide counter for the default embedder (one tokenizer load, one cache)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = WordPieceCounter()
        return _default
