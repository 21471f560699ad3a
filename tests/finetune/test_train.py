"""SFT then DPO on the tiny model: the loss falls, the run is recorded, the adapter is saved and the merged
model reloads with the PEFT model's logits; DPO's reference is the SFT model with the adapter disabled."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from llm_twin.llm.local_model import resolve_model_dir
from llm_twin.settings import Settings
from tests.finetune.fixtures import sft_config
from training.finetune.config import load_config_file
from training.finetune.run import RunResult, new_run_id

RUN_ID = re.compile(r"^(sft|dpo)-\d{8}T\d{6}Z-[0-9a-f]{8}$")


def _metrics(run: RunResult) -> list[dict[str, Any]]:
    lines = (Path(run.output_dir) / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _logits(model_dir: Path | str, adapter_dir: Path | str | None = None) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir))
    model.eval()
    ids = torch.tensor([[1, 9690, 198, 2683, 359, 253, 5356, 2, 198, 1, 4093, 198, 6004, 2, 198]])
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_run_ids_unique_and_sortable() -> None:
    ids = {new_run_id("sft") for _ in range(50)}
    assert len(ids) == 50
    assert all(RUN_ID.match(i) for i in ids)


def test_sft_loss_falls_and_run_is_recorded(sft_run: RunResult) -> None:
    assert RUN_ID.match(sft_run.run_id) and sft_run.kind == "sft"
    assert sft_run.steps == 8 and sft_run.train_rows == 8
    assert sft_run.loss_first is not None and sft_run.loss_last is not None
    assert sft_run.loss_last < sft_run.loss_first - 0.05, (sft_run.loss_first, sft_run.loss_last)
    out = Path(sft_run.output_dir)
    config = load_config_file("sft", out / "config.json")
    assert config.run_id == sft_run.run_id and config.max_steps == 8
    env = json.loads((out / "environment.json").read_text())
    assert env["device"] == "cpu" and env["precision"] == "float32" and env["torch_threads"] >= 1
    assert {"torch", "transformers", "trl", "peft"} <= {k for k, v in env["packages"].items() if v}
    assert env["python"].count(".") == 2
    train = [m for m in _metrics(sft_run) if m["event"] == "train"]
    assert [m["step"] for m in train] == list(range(1, 9))
    assert all({"loss", "learning_rate", "grad_norm", "step_seconds"} <= m.keys() for m in train)
    events = {m["event"] for m in _metrics(sft_run)}
    assert events == {"train", "summary", "eval"}
    assert "eval_loss" in sft_run.eval_metrics
    assert json.loads((out / "result.json").read_text()) == sft_run.model_dump(mode="json")
    assert sft_run.seconds_per_step and sft_run.seconds_per_step > 0 and sft_run.peak_rss_mb > 100


def test_sft_adapter_saved(sft_run: RunResult) -> None:
    adapter = Path(sft_run.adapter_dir)
    assert (adapter / "adapter_model.safetensors").is_file()
    adapter_config = json.loads((adapter / "adapter_config.json").read_text())
    assert adapter_config["r"] == 8 and adapter_config["lora_alpha"] == 16
    assert adapter_config["base_model_name_or_path"] == sft_run.base_model
    assert (adapter / "tokenizer.json").is_file()  # the adapter is usable on its own with the base


def test_sft_merged_matches_peft_model(sft_run: RunResult) -> None:
    import torch

    peft_logits = _logits(sft_run.base_model, sft_run.adapter_dir)
    merged_logits = _logits(sft_run.merged_dir)
    base_logits = _logits(sft_run.base_model)
    assert torch.allclose(merged_logits, peft_logits, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(merged_logits, base_logits, atol=1e-3)  # the adapter did change the model


def test_sft_published_for_the_local_server(sft_run: RunResult) -> None:
    published = Path(sft_run.published_dir or "")
    merged = Path(sft_run.merged_dir)
    assert sorted(p.name for p in published.iterdir()) == sorted(p.name for p in merged.iterdir())
    weights = published / "model.safetensors"
    assert weights.stat().st_ino == (merged / "model.safetensors").stat().st_ino  # a hard link, not a copy
    # resolve_model_dir serves the newest folder under <home>/models/twin/: this run.
    home = published.parents[2]
    assert published == home / "models" / "twin" / sft_run.run_id
    assert resolve_model_dir(Settings(home=home)) == published


def test_dpo_on_top_of_sft(dpo_run: RunResult, sft_run: RunResult) -> None:
    assert dpo_run.base_model == sft_run.merged_dir
    train = [m for m in _metrics(dpo_run) if m["event"] == "train"]
    # Step 1: the new adapter is zero, so policy == reference (the SFT model, adapter disabled): loss = ln 2.
    assert train[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)
    assert train[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-4)
    assert dpo_run.loss_last is not None and dpo_run.loss_last < math.log(2) - 0.05
    assert train[-1]["rewards/margins"] > 0  # chosen (the author's text) is now preferred
    assert all(
        {"rewards/chosen", "rewards/rejected", "rewards/margins", "learning_rate"} <= m.keys() for m in train
    )
    assert "eval_rewards/margins" in dpo_run.eval_metrics
    assert dpo_run.published_dir is None


def test_dpo_merged_matches_peft_model(dpo_run: RunResult) -> None:
    import torch

    assert torch.allclose(
        _logits(dpo_run.merged_dir), _logits(dpo_run.base_model, dpo_run.adapter_dir), atol=1e-5, rtol=1e-4
    )


def test_resume_from_checkpoint(tiny_model: Path, datasets_root: Path, tmp_path: Path) -> None:
    """Spot training: a run restarted on the same checkpoint folder continues from the newest checkpoint."""
    from training.finetune.sft import train_sft

    checkpoints = tmp_path / "checkpoints"
    first = sft_config(
        tiny_model, datasets_root, tmp_path / "a", max_steps=2, save_steps=1, checkpoint_dir=str(checkpoints)
    )
    assert train_sft(first, progress=False).resumed_from is None
    assert sorted(p.name for p in checkpoints.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    second = first.model_copy(update={"max_steps": 3, "output_dir": tmp_path / "b"})
    result = train_sft(second, progress=False)
    assert result.resumed_from is not None and result.resumed_from.endswith("checkpoint-2")
    assert result.steps == 3
    assert [m["step"] for m in _metrics(result) if m["event"] == "train"] == [3]
