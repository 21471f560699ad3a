"""One smoke run on the real SmolLM2-135M-Instruct: a few SFT steps with the local preset, exported and
served. Slow (the model loads three times: train, merge, serve)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from training.finetune.config import parse_config
from training.finetune.export import check_transformers4_layout
from training.finetune.presets import preset


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_smollm2_sft_smoke(base_model: Path, datasets_root: Path, model_home: Path, tmp_path: Path) -> None:
    from llm_twin.llm.local_model import LocalChatModel
    from llm_twin.llm.ports import ChatMessage, GenerationParams
    from llm_twin.settings import Settings
    from training.finetune.sft import train_sft

    values = {
        **preset("sft", "local"),
        "max_steps": 3,
        "base_model": str(base_model),
        "dataset_dir": str(datasets_root / "instruct"),
        "output_dir": str(tmp_path / "run"),
    }
    result = train_sft(parse_config("sft", values), progress=False)  # type: ignore[arg-type]
    assert result.steps == 3
    # A pretrained model starts far below a random one's ln(49152) = 10.8.
    assert result.loss_first is not None and math.isfinite(result.loss_first) and result.loss_first < 8
    assert check_transformers4_layout(Path(result.merged_dir)) == []
    model = LocalChatModel(Settings(home=model_home), Path(result.merged_dir))
    answer = model.generate(
        [ChatMessage(role="user", content="What is the capital of France?")],
        GenerationParams(max_new_tokens=12),
    )
    assert answer.text.strip()
