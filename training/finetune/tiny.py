"""A tiny randomly initialised Llama with SmolLM2's tokenizer: SFT/DPO/export run in seconds on CPU.

Same architecture family, vocabulary, special tokens and chat template as SmolLM2-135M-Instruct, so every
code path (templates, masks, LoRA on all linear layers, merge, transformers 4.x export) is exercised; the
weights are random, so its text is noise. Saved like any model folder (safetensors + tokenizer).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from llm_twin.prompts.chat_template import CHAT_TEMPLATE

TINY_MODEL_NAME = "tiny-smollm2"
TINY_SHAPE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
}


def tiny_model_dir(home: Path) -> Path:
    return home / "models" / TINY_MODEL_NAME


def build_tiny_model(tokenizer_source: Path, target: Path, *, seed: int = 0) -> Path:
    """Write a tiny random LlamaForCausalLM with the tokenizer of ``tokenizer_source`` (a model folder)
    to ``target`` (atomically; an existing complete folder is kept). ~3.3 M parameters, ~13 MB."""
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        rope_theta=100000.0,
        **TINY_SHAPE,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.chmod(0o755)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def build_tiny_model_without_chatml(target: Path, *, seed: int = 0) -> Path:
    """A tiny random Llama shaped like Llama 3.x for the template-token path: a byte-level BPE tokenizer
    (trained here on a few sentences) without ``<|im_start|>``/``<|im_end|>`` and an output layer not
    tied to the input embedding. No download, no SmolLM2 needed."""
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<unk>"]
    backend = Tokenizer(models.BPE(unk_token=specials[2]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    corpus = [
        "system user assistant You are a helpful AI assistant.",
        "What do you advise about serverless cold starts, vector search filters and LoRA adapters?",
        "Keep the package small and initialise clients lazily. Train a small low-rank update.",
    ]
    backend.train_from_iterator(
        corpus * 4,
        trainers.BpeTrainer(
            vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=specials[0], eos_token=specials[1], unk_token=specials[2]
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 256,
        },
        **TINY_SHAPE,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.chmod(0o755)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
