"""A base model without the ChatML tokens (Llama 3.x-like: another tokenizer, an untied output layer,
llama3 RoPE): training adds <|im_start|>/<|im_end|> with rows copied from the model's own bos/eos, the
export re-grows the base the same way — merged logits equal the PEFT model's — and generation stops at
<|im_end|> or the model's own eos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_twin.prompts.chat_template import IM_END, IM_START
from tests.finetune.fixtures import sft_config
from training.finetune.export import check_transformers4_layout
from training.finetune.run import RunResult

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


@pytest.fixture(scope="module")
def llama_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.finetune.tiny import build_tiny_model_without_chatml

    return build_tiny_model_without_chatml(tmp_path_factory.mktemp("llama-like") / "model")


@pytest.fixture(scope="module")
def run(llama_like: Path, datasets_root: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    from training.finetune.sft import train_sft

    out = tmp_path_factory.mktemp("llama-like-run")
    return train_sft(sft_config(llama_like, datasets_root, out, max_steps=4, max_length=256), progress=False)


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_tokenizer_fitted_to_the_template(llama_like: Path) -> None:
    from training.finetune.models import load_tokenizer

    tokenizer, tokens = load_tokenizer(str(llama_like))
    vocab = _json(llama_like / "config.json")["vocab_size"]
    bos, eos = tokenizer.convert_tokens_to_ids([BOS, EOS])
    assert tokens.added == {vocab: bos, vocab + 1: eos}
    assert tokenizer.convert_tokens_to_ids([IM_START, IM_END]) == [vocab, vocab + 1]
    assert tokenizer.eos_token == IM_END and tokens.stop_ids == [vocab + 1, eos]
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True)
    ids = ids if isinstance(ids, list) else ids["input_ids"]
    assert ids.count(vocab) == 3 and ids.count(vocab + 1) == 2  # single special tokens in the prompt


def test_prompts_longer_than_max_length_fail_clearly(
    llama_like: Path, datasets_root: Path, tmp_path: Path
) -> None:
    """Its byte-level tokenizer makes every prompt longer than 64 tokens: no row left to train on."""
    from training.finetune.data import DatasetError
    from training.finetune.sft import train_sft

    with pytest.raises(DatasetError, match=r"all 8 train rows .* were dropped.*max_length=64"):
        train_sft(sft_config(llama_like, datasets_root, tmp_path, max_length=64), progress=False)


def test_run_exports_grown_vocabulary(llama_like: Path, run: RunResult) -> None:
    vocab = _json(llama_like / "config.json")["vocab_size"]
    assert run.loss_last is not None and run.loss_first is not None and run.loss_last < run.loss_first
    merged = Path(run.merged_dir)
    config = _json(merged / "config.json")
    assert config["vocab_size"] == vocab + 2 and config["eos_token_id"] == vocab + 1
    eos = _json(llama_like / "config.json")["eos_token_id"]
    assert _json(merged / "generation_config.json")["eos_token_id"] == [vocab + 1, eos]
    tok = _json(merged / "tokenizer_config.json")
    assert tok["eos_token"] == IM_END
    assert tok["added_tokens_decoder"][str(vocab)]["content"] == IM_START
    assert tok["added_tokens_decoder"][str(vocab + 1)]["special"] is True
    assert not _json(Path(run.adapter_dir) / "adapter_config.json").get("trainable_token_indices")


def test_merged_matches_peft_model(llama_like: Path, run: RunResult) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from training.finetune.models import grow_embeddings, load_tokenizer

    tokenizer, tokens = load_tokenizer(str(llama_like))
    base = AutoModelForCausalLM.from_pretrained(str(llama_like))
    grow_embeddings(base, len(tokenizer), tokens.added)
    im_end, eos = tokens.stop_ids
    assert torch.equal(base.lm_head.weight[im_end], base.lm_head.weight[eos])
    assert torch.equal(base.model.embed_tokens.weight[im_end], base.model.embed_tokens.weight[eos])
    peft_model = PeftModel.from_pretrained(base, run.adapter_dir).eval()
    merged = AutoModelForCausalLM.from_pretrained(run.merged_dir).eval()
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What do you advise?"}], add_generation_prompt=True
    )
    ids = torch.tensor([ids if isinstance(ids, list) else ids["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(
            merged(input_ids=ids).logits, peft_model(input_ids=ids).logits, atol=1e-5, rtol=1e-4
        )


def test_export_for_4x_with_llama3_rope(run: RunResult) -> None:
    merged = Path(run.merged_dir)
    assert check_transformers4_layout(merged) == []
    config = _json(merged / "config.json")
    assert config["rope_theta"] == 500000.0
    assert config["rope_scaling"]["rope_type"] == "llama3" and config["rope_scaling"]["factor"] == 8.0
    assert config["tie_word_embeddings"] is False
