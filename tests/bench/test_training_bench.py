"""The helpers of bench/training.py: batch token counts, call classification, flags and the report."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench.training import (
    DEFAULTS,
    QUICK,
    CallLog,
    after_first,
    batch_tokens,
    command_flags,
    generation_numbers,
    read_metrics,
    render,
    run_numbers,
    spread,
)
from llm_twin.llm.ports import Generation, GenerationParams
from training.datasets.generation import draft_messages, instruction_messages, retry_messages


def test_spread_and_after_first() -> None:
    assert spread([3.0, 1.0, 2.0]) == "2.0 (1.0-3.0)"
    assert spread([2.0]) == "2.0"
    assert spread([None, 1.04, 1.01]) == "1.0"  # min and max print alike: the value alone
    assert spread([]) == "-"
    assert after_first([9.0, 1.0, 2.0]) == [1.0, 2.0]
    assert after_first([9.0]) == [9.0]


def test_batch_tokens_counts_the_mask_not_the_padding() -> None:
    torch = pytest.importorskip("torch")
    sft = {
        "input_ids": torch.ones(2, 5, dtype=torch.long),
        "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
        "completion_mask": torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]]),
    }
    assert batch_tokens(sft) == {"rows": 2, "tokens": 8, "padded": 10, "loss_tokens": 5}
    labels = {"input_ids": torch.ones(1, 3, dtype=torch.long), "labels": torch.tensor([[-100, 4, 5]])}
    assert batch_tokens(labels) == {"rows": 1, "tokens": 3, "padded": 3, "loss_tokens": 2}


def test_read_metrics_keeps_the_train_lines(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    lines = [
        {"event": "train", "step": 1, "loss": 3.0, "step_seconds": 9.0},
        {"event": "train", "step": 2, "loss": 2.5, "step_seconds": 4.0},
        {"event": "summary", "step": 2, "train_runtime": 13.0},
        {"event": "eval", "step": 2, "eval_loss": 2.7},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert [m["step"] for m in read_metrics(path)] == [1, 2]


def _extract() -> Any:
    document = SimpleNamespace(category="article", title="Hybrid Search on a Budget")
    return SimpleNamespace(document=document, text="A passage about scores. " * 20)


class _Model:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def generate(self, messages: Any, params: Any = None) -> Generation:
        if self.fail:
            raise TimeoutError("read timed out")
        return Generation(text="{}", model="m", prompt_tokens=40, completion_tokens=7)


def test_call_log_tells_the_calls_apart_and_records_failures() -> None:
    log = CallLog()
    model = _Model()
    log.wrap_client(model)
    log.build = "instruct"
    first = instruction_messages(_extract())
    model.generate(first, GenerationParams(max_new_tokens=64))
    model.generate(retry_messages(first, "nonsense", "no JSON"), GenerationParams(max_new_tokens=64))
    model.generate(draft_messages("Write a post."), GenerationParams(max_new_tokens=32))
    kinds = [c["kind"] for c in log.calls]
    assert kinds == ["instruction", "instruction, retry showing the bad reply", "draft"]
    assert log.calls[0]["prompt"] == 40 and log.calls[0]["completion"] == 7 and log.calls[0]["cap"] == 64
    failing = _Model(fail=True)
    log.wrap_client(failing)
    with pytest.raises(TimeoutError):
        failing.generate(first)
    assert log.calls[-1]["error"].startswith("TimeoutError: read timed out")


def test_command_flags() -> None:
    assert command_flags(dict(DEFAULTS)) == ""
    assert command_flags(dict(QUICK)) == " --quick"
    assert command_flags({**DEFAULTS, "instruct": 5, "repeats": 2}) == " --instruct 5 --repeats 2"
    assert command_flags({**DEFAULTS, "short": False}) == " --no-short"


# --- the report on synthetic results --------------------------------------------------------------------
def _build(kind: str, items: int, limit: int) -> dict[str, Any]:
    return {
        "timing": {"wall": 100.0, "cpu": 150.0, "psi": 0.9},
        "summary": {
            "extracts_available": 50,
            "extracts_used": items,
            "filters": {"code_files": 10, "too_short": 1},
            "generation_seconds": 99.5,
            "items_per_s": items / 99.5,
            "instructions": {"fallback": items - 1, "repaired": 1},
            "errors": {"instruction.fallback": items - 1, "instruction.llm_error": 2},
            "llm_calls": 2 * items,
        },
        "counts": {"train": items - 1, "test": 1},
        "config": {
            "limit": limit,
            "max_attempts": 2,
            "instruction_max_tokens": 64,
            "draft_max_tokens": 384,
            "draft_tokens_per_word": 1.5,
            "repetition_penalty": 1.1,
            "concurrency": 1,
        },
    }


def _data() -> dict[str, Any]:
    timeout = (
        "TransientLlmError: LMI server http://127.0.0.1:1 unreachable: Read timed out. (read timeout=60)"
    )
    first, retry = "instruction", "instruction, retry showing the bad reply"
    calls = [
        {"build": "instruct", "kind": first, "cap": 64, "seconds": 30.0, "prompt": 470, "completion": 64},
        {"build": "instruct", "kind": retry, "cap": 64, "seconds": 60.0, "error": timeout},
        {"build": "preference", "kind": first, "cap": 64, "seconds": 20.0, "prompt": 400, "completion": 30},
        {
            "build": "preference",
            "kind": "draft",
            "cap": 384,
            "seconds": 50.0,
            "prompt": 50,
            "completion": 300,
        },
    ]
    generations = [
        {"build": "instruct", "prompt": 470, "completion": 64, "seconds": 29.0},
        {"build": "instruct", "prompt": 700, "completion": 64, "seconds": 70.0},
        {"build": "preference", "prompt": 400, "completion": 30, "seconds": 19.0},
        {"build": "preference", "prompt": 50, "completion": 300, "seconds": 49.0},
        {"build": "preference"},  # still running at the end
    ]
    return {
        "base_model": {"source": "linked", "seconds": 0.0},
        "collect": {"wall": 3.0},
        "documents": 37,
        "server_start": {"wall": 6.0},
        "model_load_s": 5.9,
        "lmi_timeout_s": 60.0,
        "peak_rss_mb": 1200.0,
        "builds": {"instruct": _build("instruct", 5, 5), "preference": _build("preference", 3, 3)},
        "calls": calls,
        "generations": generations,
    }


def _run(kind: str, tokens: int, rss: float) -> dict[str, Any]:
    metrics = [
        {"event": "train", "step": i + 1, "loss": 3.0 - i / 10, "step_seconds": 20.0 - i} for i in range(4)
    ]
    return {
        "info": {
            "batch_size": 4,
            "max_length": 256,
            "grad_accumulation": 1,
            "learning_rate": 2e-4,
            "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "all-linear"},
            "trainable_parameters": 2_442_240,
            "dtype": "torch.float32",
            "attn_implementation": "sdpa",
            "torch_threads": 2,
            "rss_before_trainer_mb": 1100.0,
            "train_span": {"wall": 70.0},
        },
        "result": {"train_rows": 4, "merged_dir": f"/tmp/{kind}/merged"},
        "metrics": metrics,
        "batches": [{"rows": 4, "tokens": tokens, "padded": tokens + 20, "loss_tokens": tokens - 60}] * 4,
        "steps": [{"wall": 20.0 - i, "cpu": 30.0, "psi": 0.9} for i in range(4)],
        "phases": {
            "load tokenizer + model": 1.0,
            "build trainer": 1.0,
            "merge + export (transformers 4.x)": 7.0,
        },
        "command": {"wall": 90.0},
        "process_s": 93.0,
        "train_peak_rss_mb": rss,
        "peak_rss_mb": rss,
    }


def test_report_renders_every_part() -> None:
    results = {
        "config": {**DEFAULTS, "instruct": 5, "preference": 3},
        "data": _data(),
        "sft": [_run("sft", 1000, 4200.0), _run("sft", 1000, 4300.0)],
        "dpo": [_run("dpo", 1400, 4600.0), _run("dpo", 1400, 4500.0)],
        "short": _run("sft", 150, 2000.0),
        "datasets": {"sft": None, "dpo": None},
        "seconds": 1200.0,
    }
    numbers = run_numbers(results["sft"][0])
    assert numbers["s_step"] == 18.0 and numbers["first_s"] == 20.0  # median of 19, 18, 17
    assert numbers["tokens_s"] == pytest.approx(3000 / 54)
    both = generation_numbers(results["data"])
    assert both["failed"] == 1 and both["running_at_end"] == 1 and both["abandoned"] == 1
    text = render(results, command_flags(results["config"]))
    for heading in ("### 1. Dataset generation", "### 2. Fine-tuning", "What it says:", "Reproduce:"):
        assert heading in text
    assert "Timeouts decided the datasets" in text and "fixture rows (diagnostic)" in text
    assert "`python -m bench.training --instruct 5 --preference 3`" in text


def test_stand_in_pairs_keep_the_instruct_rows_and_split(tmp_path: Path) -> None:
    from bench.training import STAND_IN_REJECTED_WORDS, stand_in_pairs
    from tests.finetune.fixtures import instruction_samples, write_dataset
    from training.datasets.schema import PreferenceSample
    from training.finetune.data import read_rows

    rows = instruction_samples(4)
    for row in rows:
        row.answer = " ".join(f"w{i}" for i in range(150))
    write_dataset(tmp_path / "datasets", "instruct", rows[:3], rows[3:])
    folder = stand_in_pairs(tmp_path / "datasets" / "instruct", tmp_path / "stand-in")
    assert folder is not None
    train = read_rows(folder / "0123456789abcdef", "train", PreferenceSample)
    test = read_rows(folder / "0123456789abcdef", "test", PreferenceSample)
    assert [p.prompt for p in train] == [r.instruction for r in rows[:3]] and len(test) == 1
    assert all(len(p.rejected.split()) == STAND_IN_REJECTED_WORDS for p in (*train, *test))
    assert stand_in_pairs(_single(tmp_path), tmp_path / "none") is None


def _single(tmp_path: Path) -> Path:
    from tests.finetune.fixtures import instruction_samples, write_dataset

    write_dataset(tmp_path / "one", "instruct", instruction_samples(1), [])
    return tmp_path / "one" / "instruct"
