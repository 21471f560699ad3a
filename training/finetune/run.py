"""A run's identity and record, and the steps SFT and DPO share.

Every run writes next to its outputs (``config.output_dir``):

- ``config.json`` — the validated config, ``run_id`` filled in (``parse_config`` reads it back);
- ``environment.json`` — python, torch, transformers, trl, peft... versions, device, threads;
- ``metrics.jsonl`` — one line per logged step: ``step``, ``loss``, ``learning_rate``, ``grad_norm``,
  ``step_seconds``, ``rss_mb`` (+ DPO ``rewards/chosen|rejected|margins|accuracies``...), then ``eval``
  and ``summary`` lines; a resumed run appends;
- ``result.json`` — what the run produced (paths, steps, first/last loss, s/step, peak RSS).

The adapter and the merged model go to ``<model_dir>/adapter`` and ``<model_dir>/merged``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import platform
import resource
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from training.finetune.config import TrainConfig
from training.finetune.data import DatasetError
from training.finetune.models import Device, detect_device, load_model, load_tokenizer, lora_config

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
ENVIRONMENT_FILE = "environment.json"
METRICS_FILE = "metrics.jsonl"
RESULT_FILE = "result.json"
ADAPTER_DIR = "adapter"
MERGED_DIR = "merged"
_PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "safetensors", "bitsandbytes")


def new_run_id(kind: str, now: datetime | None = None) -> str:
    """``<kind>-<UTC timestamp>-<8 hex>``: sortable by time, unique across machines and processes."""
    now = now or datetime.now(UTC)
    salt = f"{now.isoformat()}|{os.getpid()}|{uuid.uuid4().hex}".encode()
    return f"{kind}-{now:%Y%m%dT%H%M%SZ}-{hashlib.sha256(salt).hexdigest()[:8]}"


def environment(device: Device | None = None) -> dict[str, Any]:
    import torch

    device = device or detect_device()
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "device": device.type,
        "device_name": device.name,
        "precision": device.dtype_name,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cuda_devices": torch.cuda.device_count() if device.type == "cuda" else 0,
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float | None:
    """Current resident set size (Linux /proc; None elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class RunResult(BaseModel):
    run_id: str
    kind: str
    base_model: str
    dataset_dir: str
    output_dir: str
    adapter_dir: str
    merged_dir: str
    published_dir: str | None
    resumed_from: str | None
    steps: int
    train_rows: int
    loss_first: float | None
    loss_last: float | None
    eval_metrics: dict[str, float]
    seconds: float
    seconds_per_step: float | None
    peak_rss_mb: float


def _metrics_callback(path: Path) -> Any:
    from transformers import TrainerCallback

    class MetricsRecorder(TrainerCallback):
        """Appends every log line (the loss curve) to metrics.jsonl with the step's wall time."""

        def __init__(self) -> None:
            self.losses: list[float] = []
            self.step_seconds: list[float] = []
            self._step_started = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._step_started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.step_seconds.append(time.perf_counter() - self._step_started)

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any
        ) -> None:
            logs = dict(logs or {})
            if "train_runtime" in logs:
                event = "summary"
            elif any(k.startswith("eval_") for k in logs):
                event = "eval"
            else:
                event = "train"
            line: dict[str, Any] = {"event": event, "step": state.global_step}
            line.update({k: v for k, v in logs.items() if isinstance(v, int | float)})
            if event == "train":
                if self.step_seconds:
                    line["step_seconds"] = round(self.step_seconds[-1], 4)
                line["rss_mb"] = rss_mb()
                if "loss" in logs:
                    self.losses.append(float(logs["loss"]))
                    log.info("step %d loss %.4f", state.global_step, logs["loss"])
            line["time"] = datetime.now(UTC).isoformat(timespec="seconds")
            with path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, sort_keys=True) + "\n")

    return MetricsRecorder()


BuildTrainer = Callable[[TrainConfig, Device, Any, Any, Any, bool, list[Any]], tuple[Any, int]]
"""(config, device, tokenizer, model, peft_config, progress, callbacks) → (trainer, train rows)."""


def execute(config: TrainConfig, build_trainer: BuildTrainer, *, progress: bool | None = None) -> RunResult:
    """Record, train (resuming from the newest checkpoint), save the adapter, export the merged model,
    publish it; return and record the result."""
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_utils import get_last_checkpoint

    from training.finetune import export

    started = time.perf_counter()
    if progress is None:
        progress = sys.stderr.isatty()
    _quiet_libraries()
    run_id = config.run_id or new_run_id(config.kind)
    config = config.model_copy(update={"run_id": run_id})
    output_dir, model_dir = config.output_dir, config.effective_model_dir
    checkpoint_dir = config.effective_checkpoint_dir
    for folder in (output_dir, model_dir):
        folder.mkdir(parents=True, exist_ok=True)
    device = detect_device()
    write_json(output_dir / CONFIG_FILE, config.model_dump(mode="json"))
    write_json(output_dir / ENVIRONMENT_FILE, environment(device))

    tokenizer, template_tokens = load_tokenizer(config.base_model)
    model = load_model(config, device, tokenizer, template_tokens)
    peft_config = lora_config(config.lora)
    recorder = _metrics_callback(output_dir / METRICS_FILE)
    trainer, train_rows = build_trainer(config, device, tokenizer, model, peft_config, progress, [recorder])
    trainer.remove_callback(PrinterCallback)  # it prints raw log dicts; metrics.jsonl and the log have them
    kept = len(trainer.train_dataset)
    if kept == 0:
        raise DatasetError(
            f"all {train_rows} train rows of {config.dataset_dir} were dropped: their prompts alone fill "
            f"max_length={config.max_length} tokens; raise max_length"
        )
    if kept < train_rows:
        log.warning(
            "%d of %d train rows dropped: prompt longer than max_length", train_rows - kept, train_rows
        )
        train_rows = kept
    resume = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.is_dir() else None
    if resume:
        log.info("resuming %s from %s", run_id, resume)
    eval_metrics: dict[str, float] = {}
    # The progress bar and any library chatter go to stderr: stdout stays for the result (CLI --json).
    with contextlib.redirect_stdout(sys.stderr):
        trainer.train(resume_from_checkpoint=resume)
        if trainer.eval_dataset is not None:
            eval_metrics = {k: float(v) for k, v in trainer.evaluate().items() if isinstance(v, int | float)}

    adapter_dir = model_dir / ADAPTER_DIR
    # Rows of added template tokens are copies the export re-creates (grow_embeddings): no need to copy
    # the whole (vocabulary x hidden) embedding matrices into the adapter.
    trainer.model.save_pretrained(str(adapter_dir), save_embedding_layers=False)
    tokenizer.save_pretrained(str(adapter_dir))
    steps = int(trainer.state.global_step)
    del trainer, model
    gc.collect()
    _empty_cuda_cache(device)

    merged_dir = export.export_merged(
        config.base_model, adapter_dir, model_dir / MERGED_DIR, dtype=device.dtype_name
    )
    published = export.publish(merged_dir, config.publish_dir) if config.publish_dir is not None else None
    timed = recorder.step_seconds[1:] or recorder.step_seconds  # the first step pays warm-up costs
    result = RunResult(
        run_id=run_id,
        kind=config.kind,
        base_model=config.base_model,
        dataset_dir=str(config.dataset_dir),
        output_dir=str(output_dir),
        adapter_dir=str(adapter_dir),
        merged_dir=str(merged_dir),
        published_dir=str(published) if published else None,
        resumed_from=resume,
        steps=steps,
        train_rows=train_rows,
        loss_first=recorder.losses[0] if recorder.losses else None,
        loss_last=recorder.losses[-1] if recorder.losses else None,
        eval_metrics=eval_metrics,
        seconds=round(time.perf_counter() - started, 2),
        seconds_per_step=round(statistics.median(timed), 4) if timed else None,
        peak_rss_mb=peak_rss_mb(),
    )
    write_json(output_dir / RESULT_FILE, result.model_dump(mode="json"))
    return result


def _empty_cuda_cache(device: Device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.empty_cache()


def _quiet_libraries() -> None:
    """Keep only the trainer's own progress bar (``disable_tqdm``); drop datasets' per-map bars and the
    "Loading weights" bars (process-wide, as the local model server does)."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    # PEFT still asks for the transformers-5 deprecated name on every model wrap; nothing to act on.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
