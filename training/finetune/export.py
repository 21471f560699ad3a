"""The merged model that serving loads: LoRA merged into the base, saved as safetensors, written so that
**transformers 4.x** (the LMI / vLLM container) loads it correctly.

transformers 5 saves files that 4.x misreads (see /work/shared/FACTS.md, "ML side"):

- ``config.json`` keeps RoPE only in ``rope_parameters``; 4.x reads ``rope_theta`` and silently falls back
  to its default (10 000 for Llama, SmolLM2 uses 100 000): wrong positions, fluent-looking garbage.
  → we also write ``rope_theta`` (+ ``rope_scaling`` for non-default RoPE) and ``torch_dtype``.
- ``tokenizer_config.json`` names ``TokenizersBackend``, a class 4.x does not have (load error), and
  the chat template only sits in ``chat_template.jinja``, which older 4.x releases ignore.
  → ``tokenizer_class: PreTrainedTokenizerFast`` (loads ``tokenizer.json`` in every 4.x), the chat
  template inline, the special tokens and ``added_tokens_decoder`` in 4.x form, ``special_tokens_map.json``.
- ``generation_config.json`` stops at the template's end-of-turn token.

The folder is flat (weights, config, tokenizer at the top), the layout LMI expects under
``option.model_id`` (an S3 prefix); the serving options are ``OPTION_*`` variables
(``training.sagemaker.deploy.lmi_environment``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from llm_twin.prompts.chat_template import CHAT_TEMPLATE

TOKENIZER_CLASS_4X = "PreTrainedTokenizerFast"
# tokenizer_config.json keys transformers 5 writes that 4.x would pass to the tokenizer as unknown kwargs.
_V5_ONLY_TOKENIZER_KEYS = ("backend", "is_local", "local_files_only", "tokenizer_file", "vocab_file")
_SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


def export_merged(base_model: str, adapter_dir: Path, target: Path, *, dtype: str = "float32") -> Path:
    """Load ``base_model`` unquantized in ``dtype`` (grown by the template tokens training added, the
    same way), apply the adapter, ``merge_and_unload``, save the merged model and the tokenizer with the
    chat template to ``target`` atomically, made transformers-4.x compatible. Returns ``target``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.finetune.models import grow_embeddings, load_tokenizer, set_generation_tokens

    tokenizer, tokens = load_tokenizer(base_model)  # what training used: same added tokens, same rows
    adapter_tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    if adapter_tokenizer.get_vocab() != tokenizer.get_vocab():
        raise ValueError(
            f"the tokenizer in {adapter_dir} is not the one {base_model} gives with the template"
        )
    base = AutoModelForCausalLM.from_pretrained(base_model, dtype=getattr(torch, dtype))
    grow_embeddings(base, len(tokenizer), tokens.added)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    set_generation_tokens(merged, tokenizer, tokens.stop_ids)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        merged.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        make_transformers4_compatible(tmp)
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def rope_fields_4x(config: dict[str, Any]) -> dict[str, Any]:
    """``rope_theta`` / ``rope_scaling`` as 4.x reads them, from 5.x ``rope_parameters`` (or as they are)."""
    params = config.get("rope_parameters")
    if params is None:
        if "rope_theta" not in config:
            raise ValueError("config.json has neither rope_parameters nor rope_theta")
        return {"rope_theta": config["rope_theta"], "rope_scaling": config.get("rope_scaling")}
    if not isinstance(params, dict) or "rope_theta" not in params:
        raise ValueError(
            f"rope_parameters {params!r} is not a single RoPE setting (per-layer-type RoPE is not exported)"
        )
    scaling = {k: v for k, v in params.items() if k != "rope_theta"}
    if scaling.get("rope_type", "default") == "default":
        return {"rope_theta": params["rope_theta"], "rope_scaling": None}
    scaling.setdefault("type", scaling["rope_type"])  # early 4.x releases read "type"
    return {"rope_theta": params["rope_theta"], "rope_scaling": scaling}


def _token_content(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("content")
    return value


def make_transformers4_compatible(model_dir: Path) -> None:
    """Rewrite a transformers-5 saved folder's config, tokenizer and generation files for 4.x (and 5.x)."""
    config_path = model_dir / "config.json"
    config = _read(config_path)
    config.update(rope_fields_4x(config))
    dtype = config.get("dtype") or config.get("torch_dtype") or "float32"
    config["torch_dtype"] = config["dtype"] = str(dtype).removeprefix("torch.")
    _write(config_path, config)

    tok_path = model_dir / "tokenizer_config.json"
    tok = _read(tok_path)
    for key in _V5_ONLY_TOKENIZER_KEYS:
        tok.pop(key, None)
    tok["tokenizer_class"] = TOKENIZER_CLASS_4X
    tok["chat_template"] = CHAT_TEMPLATE
    tok.setdefault("clean_up_tokenization_spaces", False)
    max_positions = config.get("max_position_embeddings")
    if isinstance(max_positions, int):
        tok["model_max_length"] = max_positions
    tokenizer_json = _read(model_dir / "tokenizer.json")
    added = {
        str(t["id"]): {
            k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")
        }
        for t in tokenizer_json.get("added_tokens", [])
    }
    if added:
        tok["added_tokens_decoder"] = added
    _write(tok_path, tok)
    (model_dir / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")

    special = {k: _token_content(tok[k]) for k in _SPECIAL_TOKEN_KEYS if tok.get(k) is not None}
    extra = tok.get("extra_special_tokens") or tok.get("additional_special_tokens")
    if isinstance(extra, list) and extra:
        special["additional_special_tokens"] = [_token_content(t) for t in extra]
    _write(model_dir / "special_tokens_map.json", special)

    gen_path = model_dir / "generation_config.json"
    gen = _read(gen_path)
    vocab = tokenizer_json.get("model", {}).get("vocab", {})
    added_ids = {t["content"]: t["id"] for t in tokenizer_json.get("added_tokens", [])}
    eos = special.get("eos_token")
    eos_id = added_ids.get(eos, vocab.get(eos)) if isinstance(eos, str) else None
    if eos_id is not None:
        existing = gen.get("eos_token_id")
        existing = existing if isinstance(existing, list) else [] if existing is None else [existing]
        ids = list(dict.fromkeys([eos_id, *existing]))  # <|im_end|> first, the model's own stops kept
        gen["eos_token_id"] = ids[0] if len(ids) == 1 else ids
        config_eos = config.get("eos_token_id")
        if config_eos != eos_id:
            config["eos_token_id"] = eos_id
            _write(config_path, config)
    for key in ("bos_token_id", "pad_token_id"):
        if config.get(key) is not None:
            gen.setdefault(key, config[key])
    _write(gen_path, gen)


def check_transformers4_layout(model_dir: Path) -> list[str]:
    """What would break or silently change under transformers 4.x; empty when the folder is right."""
    problems = []
    config = _read(model_dir / "config.json")
    if not config:
        return ["config.json missing"]
    params = config.get("rope_parameters")
    if "rope_theta" not in config:
        problems.append("config.json: no rope_theta (4.x would use its default RoPE base)")
    elif isinstance(params, dict) and params.get("rope_theta") != config["rope_theta"]:
        problems.append("config.json: rope_theta differs from rope_parameters.rope_theta")
    if "torch_dtype" not in config:
        problems.append("config.json: no torch_dtype")
    tok = _read(model_dir / "tokenizer_config.json")
    if tok.get("tokenizer_class") != TOKENIZER_CLASS_4X:
        problems.append(f"tokenizer_config.json: tokenizer_class is {tok.get('tokenizer_class')!r}")
    if tok.get("chat_template") != CHAT_TEMPLATE:
        problems.append("tokenizer_config.json: chat_template is not the project's template")
    if not (model_dir / "tokenizer.json").is_file():
        problems.append("tokenizer.json missing")
    if not (model_dir / "generation_config.json").is_file():
        problems.append("generation_config.json missing")
    if not any(model_dir.glob("*.safetensors")):
        problems.append("no *.safetensors weights")
    return problems


def publish(merged_dir: Path, target: Path) -> Path:
    """Make ``merged_dir`` servable at ``target`` (``<home>/models/twin/<run_id>/``): hard links when on
    the same filesystem (no second copy), else a copy; appears atomically (the local server never sees
    a half-written folder)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for source in merged_dir.iterdir():
            if not source.is_file():
                continue
            try:
                os.link(source, tmp / source.name)
            except OSError:
                shutil.copy2(source, tmp / source.name)
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
