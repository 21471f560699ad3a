"""The exported merged folder is what transformers 4.x (LMI / vLLM) needs: the files FACTS.md names.

transformers 4.x cannot be installed here, so the files are asserted key by key, and where possible the
4.x reading is reproduced: RoPE frequencies from ``rope_theta`` alone, the tokenizer from
``tokenizer.json`` through ``PreTrainedTokenizerFast``, the chat template from tokenizer_config.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_twin.prompts.chat_template import CHAT_TEMPLATE, IM_END, render
from training.finetune.export import check_transformers4_layout, make_transformers4_compatible, rope_fields_4x
from training.finetune.run import RunResult


@pytest.fixture(scope="module")
def merged(sft_run: RunResult) -> Path:
    return Path(sft_run.merged_dir)


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_layout_check_passes(merged: Path, dpo_run: RunResult) -> None:
    assert check_transformers4_layout(merged) == []
    assert check_transformers4_layout(Path(dpo_run.merged_dir)) == []
    names = {p.name for p in merged.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= names
    assert {"tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"} <= names
    assert all(p.is_file() for p in merged.iterdir())  # flat: what LMI's option.model_id points at


def test_config_has_rope_theta_and_torch_dtype(merged: Path) -> None:
    config = _json(merged / "config.json")
    assert config["rope_theta"] == 100000.0 == config["rope_parameters"]["rope_theta"]
    assert config["rope_scaling"] is None  # default RoPE
    assert config["torch_dtype"] == "float32" == config["dtype"]
    assert config["architectures"] == ["LlamaForCausalLM"] and config["model_type"] == "llama"
    assert config["eos_token_id"] == 2 and config["tie_word_embeddings"] is True


def test_rope_from_rope_theta_alone_matches_the_model(merged: Path) -> None:
    """4.x computes inv_freq = 1 / theta^(2i/d) from rope_theta (default 10000 when the key is missing)."""
    import torch
    from transformers import AutoModelForCausalLM

    config = _json(merged / "config.json")
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    steps = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    inv_freq_4x = 1.0 / (config["rope_theta"] ** steps)
    model = AutoModelForCausalLM.from_pretrained(str(merged))
    assert torch.allclose(model.model.rotary_emb.inv_freq, inv_freq_4x)
    assert not torch.allclose(1.0 / (10000.0**steps), inv_freq_4x)  # the silent 4.x default is wrong


def test_tokenizer_config_for_4x(merged: Path) -> None:
    tok = _json(merged / "tokenizer_config.json")
    assert tok["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert tok["chat_template"] == CHAT_TEMPLATE == (merged / "chat_template.jinja").read_text()
    assert tok["eos_token"] == IM_END and tok["pad_token"] == IM_END
    assert tok["bos_token"] == "<|im_start|>" and tok["unk_token"] == "<|endoftext|>"
    assert not {"backend", "is_local", "local_files_only"} & tok.keys()
    assert tok["model_max_length"] == 2048
    assert tok["added_tokens_decoder"]["2"] == {
        "content": IM_END,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }
    special = _json(merged / "special_tokens_map.json")
    assert special["eos_token"] == IM_END and special["bos_token"] == "<|im_start|>"


def test_generation_config_stops_at_end_of_turn(merged: Path) -> None:
    generation = _json(merged / "generation_config.json")
    tokenizer_json = _json(merged / "tokenizer.json")
    im_end = next(t["id"] for t in tokenizer_json["added_tokens"] if t["content"] == IM_END)
    assert generation["eos_token_id"] == im_end == 2
    assert generation["pad_token_id"] == 2 and generation["bos_token_id"] == 1


def test_tokenizer_loads_as_pretrained_tokenizer_fast(merged: Path, base_model: Path) -> None:
    """What 4.x does with tokenizer_class PreTrainedTokenizerFast: read tokenizer.json, apply the template."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok_config = _json(merged / "tokenizer_config.json")
    fast = PreTrainedTokenizerFast(
        tokenizer_file=str(merged / "tokenizer.json"),
        **{k: tok_config[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token", "chat_template")},
    )
    original = AutoTokenizer.from_pretrained(str(base_model))
    messages = [
        {"role": "system", "content": "You write like Maya."},
        {"role": "user", "content": "Héllo {x} 漢字"},
    ]
    prompt = render(messages)
    assert fast.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == prompt
    assert (
        fast(prompt, add_special_tokens=False)["input_ids"]
        == original(prompt, add_special_tokens=False)["input_ids"]
    )
    assert fast.eos_token_id == original.convert_tokens_to_ids(IM_END)


def test_weights_are_plain_merged_safetensors(merged: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(merged / "model.safetensors"), framework="pt") as weights:
        assert weights.metadata() == {"format": "pt"}  # 4.x refuses other formats
        keys = set(weights.keys())
    assert "model.embed_tokens.weight" in keys and "model.layers.0.self_attn.q_proj.weight" in keys
    assert not [k for k in keys if "lora_" in k or k.startswith("base_model.")]


def test_check_catches_a_raw_transformers5_save(tiny_model: Path, tmp_path: Path) -> None:
    """The trap FACTS.md describes: a plain transformers-5 save fails the check; once fixed, it passes."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    raw = tmp_path / "raw"
    AutoModelForCausalLM.from_pretrained(str(tiny_model)).save_pretrained(str(raw))
    AutoTokenizer.from_pretrained(str(tiny_model)).save_pretrained(str(raw))
    assert "rope_theta" not in _json(raw / "config.json")
    problems = check_transformers4_layout(raw)
    assert any("no rope_theta" in p for p in problems)
    assert any("no torch_dtype" in p for p in problems)
    assert any("tokenizer_class is 'TokenizersBackend'" in p for p in problems)
    make_transformers4_compatible(raw)
    assert check_transformers4_layout(raw) == []
    make_transformers4_compatible(raw)  # idempotent
    assert check_transformers4_layout(raw) == []


def test_rope_scaling_for_4x() -> None:
    llama3 = {
        "rope_parameters": {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        }
    }
    fields = rope_fields_4x(llama3)
    assert fields["rope_theta"] == 500000.0
    assert fields["rope_scaling"] == {
        "rope_type": "llama3",
        "type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }
    assert rope_fields_4x({"rope_theta": 10000.0}) == {"rope_theta": 10000.0, "rope_scaling": None}
    with pytest.raises(ValueError, match="per-layer-type"):
        rope_fields_4x({"rope_parameters": {"full_attention": {"rope_theta": 1e6}}})
    with pytest.raises(ValueError, match="neither"):
        rope_fields_4x({})


def test_merged_model_serves_through_the_local_model(merged: Path, model_home: Path) -> None:
    """The local server's model class loads the exported folder and answers (noise: it is the tiny model)."""
    from llm_twin.llm.local_model import LocalChatModel
    from llm_twin.llm.ports import ChatMessage, GenerationParams
    from llm_twin.settings import Settings

    model = LocalChatModel(Settings(home=model_home), merged)
    generation = model.generate([ChatMessage(role="user", content="hi")], GenerationParams(max_new_tokens=4))
    assert generation.model == merged.name and generation.completion_tokens <= 4
