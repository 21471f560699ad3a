"""Loading the base model and tokenizer, the LoRA config and the trainer arguments shared by SFT and DPO.

torch, transformers and peft are imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm_twin.errors import InvalidInputError
from llm_twin.prompts.chat_template import CHAT_TEMPLATE, IM_END, IM_START
from training.finetune.config import LoraSettings, TrainConfig

if TYPE_CHECKING:
    from peft import LoraConfig


@dataclass(frozen=True)
class Device:
    """Where and how a run computes: CPU fp32, or CUDA (bf16 when the GPU supports it)."""

    type: str  # "cpu" | "cuda"
    name: str
    bf16: bool

    @property
    def dtype_name(self) -> str:
        return "bfloat16" if self.bf16 else "float32"


def detect_device() -> Device:
    import torch

    if torch.cuda.is_available():
        return Device("cuda", torch.cuda.get_device_name(0), bool(torch.cuda.is_bf16_supported()))
    return Device("cpu", "cpu", False)


def check_quantization(config: TrainConfig, device: Device) -> None:
    """QLoRA needs a CUDA GPU and bitsandbytes; say so instead of silently training in full precision."""
    if config.quantization == "none":
        return
    missing = []
    if device.type != "cuda":
        missing.append("a CUDA GPU (this machine has none)")
    if importlib.util.find_spec("bitsandbytes") is None:
        missing.append("the bitsandbytes package (pip install bitsandbytes)")
    if missing:
        raise InvalidInputError(
            f"quantization={config.quantization!r} needs {' and '.join(missing)}; "
            'set quantization="none" to train LoRA in full precision'
        )


@dataclass(frozen=True)
class TemplateTokens:
    """How the base tokenizer was fitted to the chat template.

    ``added`` maps each template token the base lacked to the existing token whose embedding rows it
    starts from (None: the mean row); ``stop_ids`` are the ids generation stops at: ``<|im_end|>`` first,
    then the base's own eos when it was another token."""

    added: dict[int, int | None]
    stop_ids: list[int]


def load_tokenizer(base_model: str) -> tuple[Any, TemplateTokens]:
    """The base tokenizer with the project's chat template and ``<|im_end|>`` as its eos token.

    A ChatML model (SmolLM2, Qwen2.5) already has ``<|im_start|>``/``<|im_end|>`` as single special
    tokens. For another (Llama 3.x) they are added here; :func:`grow_embeddings` gives them rows copied
    from the model's own turn markers — ``<|im_end|>`` from its eos (Llama 3.1 Instruct: ``<|eot_id|>``),
    ``<|im_start|>`` from its bos — so the instruct model already treats them as such, and LoRA adapts
    the rest. (They are not trained as LoRA trainable tokens: TRL's fused LM head reads the output
    layer's weight directly and would bypass or break a wrapped ``lm_head``.) Generation then stops at
    either end-of-turn token (both ids in ``generation_config.eos_token_id``)."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    tokenizer.chat_template = CHAT_TEMPLATE
    original_eos, original_bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    vocab = tokenizer.get_vocab()
    missing = [t for t in (IM_START, IM_END) if t not in vocab]
    if missing:
        tokenizer.add_tokens(
            [AddedToken(t, special=True, normalized=False) for t in missing], special_tokens=True
        )
    for token in (IM_START, IM_END):
        if len(tokenizer(token, add_special_tokens=False)["input_ids"]) != 1:
            raise InvalidInputError(f"the tokenizer of {base_model} splits {token} into several tokens")
    sources = {IM_START: original_bos, IM_END: original_eos}
    added = {int(tokenizer.convert_tokens_to_ids(t)): sources[t] for t in missing}
    if tokenizer.eos_token != IM_END:
        tokenizer.eos_token = IM_END
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    stop_ids = [int(tokenizer.eos_token_id)]
    if original_eos is not None and original_eos not in stop_ids:
        stop_ids.append(int(original_eos))
    return tokenizer, TemplateTokens(added, stop_ids)


def grow_embeddings(model: Any, vocab_size: int, added: Mapping[int, int | None]) -> None:
    """Make room for added template tokens: grow the input (and an untied output) embedding to
    ``vocab_size`` rows when smaller, and set each added token's rows to those of its source token (or
    the mean of the original rows). Deterministic: training and the export build the same base."""
    import torch

    if not added:
        return
    rows = model.get_input_embeddings().weight.shape[0]
    if vocab_size > rows:
        model.resize_token_embeddings(vocab_size, mean_resizing=False)
    known = min(rows, min(added))
    with torch.no_grad():
        weights = [model.get_input_embeddings().weight]
        output = model.get_output_embeddings()
        if output is not None and output.weight is not weights[0]:
            weights.append(output.weight)
        for weight in weights:
            mean = weight[:known].float().mean(dim=0).to(weight.dtype)
            for token, source in added.items():
                weight[token] = mean if source is None else weight[source]


def load_model(config: TrainConfig, device: Device, tokenizer: Any, tokens: TemplateTokens) -> Any:
    """The base model, in 4-bit NF4 for QLoRA, else in the device's training dtype, with rows for any
    added template tokens; generation stops at the template's end-of-turn token."""
    import torch
    from transformers import AutoModelForCausalLM

    check_quantization(config, device)
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if device.bf16 else torch.float32}
    if config.quantization == "qlora-4bit":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if device.bf16 else torch.float16,
        )
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(config.base_model, **kwargs)
    grow_embeddings(model, len(tokenizer), tokens.added)
    if config.quantization == "qlora-4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    set_generation_tokens(model, tokenizer, tokens.stop_ids)
    return model


def set_generation_tokens(model: Any, tokenizer: Any, stop_ids: list[int]) -> None:
    """eos = ``<|im_end|>`` in the config; the generation config stops at ``stop_ids`` and at whatever
    it already stopped at (an instruct model's own end-of-turn tokens), ``<|im_end|>`` first."""
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    generation = model.generation_config
    if generation is not None:
        existing = generation.eos_token_id
        existing = existing if isinstance(existing, list) else [] if existing is None else [existing]
        ids = list(dict.fromkeys([*stop_ids, *existing]))
        generation.eos_token_id = ids[0] if len(ids) == 1 else ids
        generation.pad_token_id = tokenizer.pad_token_id


def lora_config(settings: LoraSettings) -> LoraConfig:
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM",
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        bias="none",
    )


def trainer_arguments(config: TrainConfig, device: Device, *, progress: bool) -> dict[str, Any]:
    """TrainingArguments fields common to SFTConfig and DPOConfig."""
    save = config.save_steps is not None
    return {
        "output_dir": str(config.effective_checkpoint_dir),
        "max_steps": config.max_steps if config.max_steps is not None else -1,
        "num_train_epochs": config.epochs if config.epochs is not None else 1.0,
        "learning_rate": config.learning_rate,
        "per_device_train_batch_size": config.batch_size,
        "per_device_eval_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accumulation,
        "max_length": config.max_length,
        "seed": config.seed,
        "data_seed": config.seed,
        "warmup_steps": config.warmup_steps,
        "lr_scheduler_type": config.lr_scheduler,
        "weight_decay": config.weight_decay,
        "logging_steps": 1,
        "logging_first_step": True,
        "save_strategy": "steps" if save else "no",
        "save_steps": config.save_steps if save else 500,
        "save_total_limit": 2 if save else None,
        "eval_strategy": "no",
        "report_to": "none",
        "disable_tqdm": not progress,
        "bf16": device.bf16,
        "fp16": False,
        "use_cpu": device.type == "cpu",
        # On CPU recomputing activations only costs time; on a GPU it is what lets a 7-8B model fit.
        "activation_checkpointing": device.type == "cuda",
        "activation_checkpointing_kwargs": {"use_reentrant": False} if device.type == "cuda" else None,
        "dataloader_num_workers": 0,
    }
