"""Evaluate models side by side on the held-out instruct test split, gate the candidate, write the report.

``evaluate(models, rows, judge, embedder, config)`` generates each model's answer to every test
instruction (greedy, the same prompt the twin is trained and served with: ``[system?, user]`` through
the one chat template), frees the model, then scores the answers: the judge (accuracy, style 1-5), the
MiniLM cosine to the author's answer, and the stylometry distance. Models are loaded one at a time.
``build_evaluation`` adds the gate decision; ``write_outputs`` writes ``evaluation.json`` (the workflow
contract: ``passed``, ``reason``, ``metrics``... ≤ 200 KB), ``samples.jsonl``, ``report.md`` and the PNG
plots into one folder.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llm_twin.errors import LlmError
from llm_twin.llm.ports import ChatMessage, ChatModel, Generation, GenerationParams
from training.datasets.schema import InstructionSample
from training.evaluate import style
from training.evaluate.gate import GateConfig, GateDecision, decide
from training.evaluate.judge import Judge

log = logging.getLogger(__name__)

EVALUATION_FILE = "evaluation.json"
SAMPLES_FILE = "samples.jsonl"
REPORT_FILE = "report.md"
MAX_EVALUATION_BYTES = 200_000
SAMPLE_CHARS = 600
ROLE_ORDER = ("base", "current", "sft", "dpo", "model")
Progress = Callable[[str, int, int], None]


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int | None = Field(None, ge=1, description="Evaluate the first N test rows only.")
    max_new_tokens: int = Field(256, ge=1, le=4096)
    repetition_penalty: float = Field(1.1, ge=1.0, le=2.0)
    candidate: str = Field("dpo", description="The model the gate decides on (by name).")
    gate: GateConfig = Field(default_factory=GateConfig)


@dataclass
class ModelSpec:
    """A model to evaluate: ``name`` (``base``, ``sft``, ``dpo``, ``current``...), where it comes from,
    and a factory so it is loaded only when its turn comes."""

    name: str
    source: str
    load: Callable[[], ChatModel]
    role: str = ""

    def __post_init__(self) -> None:
        self.role = self.role or self.name


@dataclass
class ModelResult:
    name: str
    role: str
    source: str
    metrics: dict[str, Any]
    stylometry: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)


def prompt_messages(row: InstructionSample) -> list[ChatMessage]:
    system = [ChatMessage(role="system", content=row.system)] if row.system else []
    return [*system, ChatMessage(role="user", content=row.instruction)]


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _words(text: str) -> int:
    return len(text.split())


def evaluate_model(
    spec: ModelSpec,
    rows: Sequence[InstructionSample],
    judge: Judge | None,
    embedder: style.Embedder | None,
    config: EvalConfig,
    progress: Progress | None = None,
) -> ModelResult:
    started = time.perf_counter()
    params = GenerationParams(
        max_new_tokens=config.max_new_tokens, temperature=0.0, repetition_penalty=config.repetition_penalty
    )
    model = spec.load()
    answers: list[str] = []
    errors = 0
    for i, row in enumerate(rows, 1):
        try:
            answers.append(model.generate(prompt_messages(row), params).text.strip())
        except LlmError as exc:
            log.warning("%s: generation failed for row %s: %s", spec.name, row.id[:12], exc)
            answers.append("")
            errors += 1
        if progress:
            progress(f"{spec.name}: answers", i, len(rows))
    generate_seconds = time.perf_counter() - started
    model_name = getattr(model, "model_name", spec.name)
    del model
    gc.collect()

    references = [row.answer for row in rows]
    verdicts = []
    if judge is not None:
        for i, (row, answer) in enumerate(zip(rows, answers, strict=True), 1):
            verdicts.append(judge.score(row.instruction, row.answer, answer))
            if progress:
                progress(f"{spec.name}: judge", i, len(rows))
    scored = [v.score for v in verdicts if v.score is not None]
    similarities: list[float] = []
    similarity_error = None
    if embedder is not None:
        try:
            similarities = style.embedding_similarities(embedder, answers, references)
        except Exception as exc:  # the embedder is optional: a broken one is reported, not fatal
            similarity_error = f"{type(exc).__name__}: {exc}"
            log.warning("style similarity unavailable: %s", similarity_error)
    stylo = style.stylometry(answers, references)
    n = len(rows)
    metrics: dict[str, Any] = {
        "rows": n,
        "model_name": model_name,
        "judge_accuracy": _mean([s.accuracy for s in scored]),
        "judge_style": _mean([s.style for s in scored]),
        "judged": len(scored),
        "judge_failures": sum(v.score is None for v in verdicts),
        "judge_repaired": sum(v.status == "repaired" for v in verdicts),
        "judge_failure_rate": round(sum(v.score is None for v in verdicts) / n, 4) if verdicts else None,
        "style_similarity": _mean(similarities),
        "stylometry_distance": stylo["distance"]["l1"],
        "stylometry_l2": stylo["distance"]["l2"],
        "answer_words_mean": _mean([_words(a) for a in answers]),
        "reference_words_mean": _mean([_words(r) for r in references]),
        "empty_answers": sum(not a for a in answers),
        "generation_errors": errors,
        "generation_seconds": round(generate_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info(
        "%s: %d rows answered in %.1f s, judged %d, %.1f s in all",
        spec.name,
        n,
        generate_seconds,
        len(scored),
        metrics["seconds"],
    )
    if similarity_error:
        metrics["style_similarity_error"] = similarity_error[:300]
    samples = []
    for i, (row, answer) in enumerate(zip(rows, answers, strict=True)):
        verdict = verdicts[i] if verdicts else None
        samples.append(
            {
                "model": spec.name,
                "row_id": row.id,
                "instruction": row.instruction[:SAMPLE_CHARS],
                "answer": answer[:SAMPLE_CHARS],
                "reference": row.answer[:SAMPLE_CHARS],
                "accuracy": verdict.score.accuracy if verdict and verdict.score else None,
                "style": verdict.score.style if verdict and verdict.score else None,
                "justification": verdict.score.justification if verdict and verdict.score else None,
                "judge_status": verdict.status if verdict else None,
                "judge_error": verdict.reason if verdict and verdict.score is None else None,
                "similarity": similarities[i] if similarities else None,
            }
        )
    return ModelResult(spec.name, spec.role, spec.source, metrics, stylo, samples)


def evaluate(
    models: Sequence[ModelSpec],
    rows: Sequence[InstructionSample],
    judge: Judge | None,
    embedder: style.Embedder | None,
    config: EvalConfig,
    progress: Progress | None = None,
) -> list[ModelResult]:
    if not rows:
        raise ValueError("no test rows to evaluate")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique: {names}")
    rows = list(rows)[: config.limit] if config.limit else list(rows)
    return [evaluate_model(spec, rows, judge, embedder, config, progress) for spec in models]


GATED_KEYS = ("rows", "judge_accuracy", "judge_style", "style_similarity", "stylometry_distance")


def _gate_view(result: ModelResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {k: result.metrics.get(k) for k in (*GATED_KEYS, "judge_failure_rate")}


def gate_results(results: Sequence[ModelResult], config: EvalConfig) -> GateDecision:
    by_name = {r.name: r for r in results}
    candidate = by_name.get(config.candidate)
    if candidate is None:
        return GateDecision(
            passed=False,
            reason=f"no candidate model named {config.candidate!r} was evaluated",
            candidate=config.candidate,
            reference="none",
            comparisons=[],
        )
    return decide(
        _gate_view(candidate) or {},
        _gate_view(by_name.get("current")),
        _gate_view(by_name.get("base")),
        config.gate,
        candidate_name=candidate.name,
    )


def build_evaluation(
    results: Sequence[ModelResult],
    decision: GateDecision,
    config: EvalConfig,
    *,
    judge: Judge | None,
    dataset: dict[str, Any],
    retrieval: dict[str, Any],
    notes: Sequence[str] = (),
    run: str | None = None,
) -> dict[str, Any]:
    """The evaluation.json object (the workflow reads ``passed`` and ``reason``)."""
    return {
        "passed": bool(decision.passed),
        "reason": decision.reason,
        "run": run if run is not None else os.environ.get("LLM_TWIN_TRAINING_RUN"),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "candidate": decision.candidate,
        "compared_with": decision.reference,
        "metrics": {r.name: {k: v for k, v in r.metrics.items()} for r in results},
        "models": {r.name: {"role": r.role, "source": r.source} for r in results},
        "stylometry": {r.name: r.stylometry["candidate"] for r in results}
        | ({"author": results[0].stylometry["author"]} if results else {}),
        "gate": {
            "config": config.gate.model_dump(mode="json"),
            "comparisons": [c.model_dump(mode="json") for c in decision.comparisons],
        },
        "judge": {
            "model": judge.name if judge else None,
            "weak": bool(judge.weak) if judge else None,
            "max_attempts": judge.max_attempts if judge else None,
        },
        "generation": {
            "max_new_tokens": config.max_new_tokens,
            "repetition_penalty": config.repetition_penalty,
            "temperature": 0.0,
        },
        "dataset": dataset,
        "retrieval": retrieval,
        "notes": list(notes),
    }


def _fit(evaluation: dict[str, Any]) -> str:
    text = json.dumps(evaluation, indent=2, sort_keys=False, default=str)
    if len(text.encode()) > MAX_EVALUATION_BYTES:  # keep the state machine's 256 KB payload limit safe
        evaluation = {**evaluation, "stylometry": "see report.md", "notes": evaluation["notes"][:5]}
        text = json.dumps(evaluation, indent=2, default=str)
    return text + "\n"


def write_outputs(
    evaluation: dict[str, Any], results: Sequence[ModelResult], output: Path, *, plots: bool = True
) -> list[Path]:
    """evaluation.json (last), samples.jsonl, report.md and the plots in ``output``; returns the paths."""
    from training.evaluate import report

    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    samples = output / SAMPLES_FILE
    samples.write_text(
        "".join(json.dumps(s, ensure_ascii=False) + "\n" for r in results for s in r.samples),
        encoding="utf-8",
    )
    written.append(samples)
    images: list[Path] = []
    if plots:
        try:
            images = report.write_plots(evaluation, output)
        except ImportError as exc:
            evaluation["notes"].append(f"plots skipped: {exc}")
    written += images
    md = output / REPORT_FILE
    md.write_text(report.render_markdown(evaluation, results, [p.name for p in images]), encoding="utf-8")
    written.append(md)
    evaluation["files"] = [p.name for p in written] + [EVALUATION_FILE]
    target = output / EVALUATION_FILE
    tmp = output / f".{EVALUATION_FILE}.tmp"
    tmp.write_text(_fit(evaluation), encoding="utf-8")
    os.replace(tmp, target)
    written.append(target)
    return written


class TransformersChatModel:
    """A ChatModel on a transformers folder or Hub id on the best device (CUDA bf16 in the evaluation
    job; locally the project's LocalChatModel is used instead). Loads on first use."""

    def __init__(self, model: str) -> None:
        self._source = model
        self._model: Any = None
        self._tokenizer: Any = None
        self.model_name = Path(model).name or model

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cuda = torch.cuda.is_available()
        dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
        self._tokenizer = AutoTokenizer.from_pretrained(self._source)
        self._model = AutoModelForCausalLM.from_pretrained(
            self._source, dtype=dtype, device_map="auto" if cuda else None
        )
        self._model.eval()

    def generate(self, messages: Sequence[ChatMessage], params: GenerationParams | None = None) -> Generation:
        import torch

        from llm_twin.prompts import chat_template

        params = params or GenerationParams()
        self._load()
        tok, model = self._tokenizer, self._model
        inputs = tok(chat_template.render(messages), return_tensors="pt", add_special_tokens=False)
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        prompt_tokens = int(inputs["input_ids"].shape[1])
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": False,
            "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        }
        if params.repetition_penalty != 1.0:
            kwargs["repetition_penalty"] = params.repetition_penalty
        with torch.inference_mode():
            output = model.generate(**inputs, **kwargs)
        new_ids = output[0, prompt_tokens:].tolist()
        return Generation(
            text=tok.decode(new_ids, skip_special_tokens=True),
            model=self.model_name,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(new_ids),
        )


def chat_model_for(model: str | Path, settings: Any = None) -> ChatModel:
    """CUDA available: :class:`TransformersChatModel`; else the project's LocalChatModel on the folder."""
    import torch

    if torch.cuda.is_available() or settings is None:
        return TransformersChatModel(str(model))
    from llm_twin.llm.local_model import LocalChatModel

    return LocalChatModel(settings, Path(model))


def local_embedder() -> tuple[style.Embedder | None, str | None]:
    """The MiniLM embedder when its package is installed, else (None, why)."""
    try:
        from llm_twin.features.embedding.local import LocalEmbedder, model_dir

        model_dir()
        return LocalEmbedder(), None
    except (ImportError, RuntimeError) as exc:
        return None, f"style similarity skipped: {exc}"
