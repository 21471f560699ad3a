"""Fine-tuning configuration: explicit, validated, the same object locally and on SageMaker.

What decides a run is required: the base model, the dataset version, where outputs go, the learning
rate, batch size, sequence length, the LoRA shape and either ``max_steps`` or ``epochs`` (DPO also its
``beta``). The few fields with defaults have the neutral value a reader expects (no gradient
accumulation, no warmup, no weight decay, seed 42, no quantization) — there is no placeholder model,
dataset or path anywhere. Presets for the CLI live in :mod:`training.finetune.presets`.

One parser, :func:`parse_config`, reads a JSON object (nested ``lora``), SageMaker hyperparameters (every
value a string, LoRA flattened as ``lora_r``...) and ``--key value`` command-line pairs alike;
:meth:`TrainConfig.to_hyperparameters` is its inverse for launching a training job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llm_twin.errors import InvalidInputError

Kind = Literal["sft", "dpo"]
KINDS: tuple[Kind, ...] = ("sft", "dpo")
Quantization = Literal["none", "qlora-4bit"]
Scheduler = Literal["linear", "cosine", "constant", "constant_with_warmup"]

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
# Fields naming where things are on the machine that runs the job: a SageMaker training job gets them
# from its SM_* environment, so they are never sent as hyperparameters.
LOCATION_FIELDS = ("dataset_dir", "output_dir", "model_dir", "checkpoint_dir", "publish_dir")
# Keys the SageMaker SDK or toolkit may add to hyperparameters.json; not ours to validate.
_FOREIGN_PREFIXES = ("sagemaker_", "_")


class ConfigError(InvalidInputError):
    """A fine-tuning configuration is invalid; the message lists every problem with its field."""


class LoraSettings(BaseModel):
    """The LoRA adapter: rank, scaling, dropout and which modules get one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    r: int = Field(ge=1, le=1024, description="Adapter rank.")
    alpha: int = Field(ge=1, le=4096, description="Scaling numerator: updates are scaled by alpha / r.")
    dropout: float = Field(ge=0.0, lt=1.0, description="Dropout on the adapter input.")
    target_modules: Annotated[
        str | list[str],
        Field(description='"all-linear" or module names such as ["q_proj", "v_proj"].'),
    ]

    @field_validator("target_modules", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                value = json.loads(value)
            elif "," in value:
                value = [part.strip() for part in value.split(",")]
        if isinstance(value, list | tuple):
            names = [str(v).strip() for v in value]
            if not names or any(not n for n in names):
                raise ValueError("target_modules must name at least one module, without empty names")
            return names
        if isinstance(value, str) and value != "all-linear" and not re.fullmatch(r"[A-Za-z_][\w.]*", value):
            raise ValueError(f'target_modules must be "all-linear" or module names, got {value!r}')
        return value


class TrainConfig(BaseModel):
    """What SFT and DPO share. Locations are local paths on the machine that trains (the SageMaker entry
    point fills them from SM_* variables); ``base_model`` and ``dataset_dir`` may also be ``s3://`` URIs
    in a config that is only launched (the launcher turns them into input channels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    run_id: str | None = Field(
        None,
        pattern=RUN_ID_PATTERN,
        description="Unique run id; None: generated at start as <kind>-<UTC timestamp>-<short hash>.",
    )
    base_model: str = Field(
        min_length=1,
        description="The model to fine-tune: a transformers folder, a Hub id, or s3:// (launch only). "
        "DPO: the merged SFT model.",
    )
    dataset_dir: str = Field(
        min_length=1,
        description="A dataset version folder (train.jsonl, test.jsonl), or its <root>/<kind> folder "
        "holding LATEST; s3:// for launch only.",
    )
    output_dir: Path = Field(description="Run record: config.json, metrics.jsonl, environment.json.")
    model_dir: Path | None = Field(None, description="adapter/ and merged/ go here (default: output_dir).")
    checkpoint_dir: Path | None = Field(
        None,
        description="Trainer checkpoints; a run resumes from the newest one found here "
        "(default: <output_dir>/checkpoints; /opt/ml/checkpoints on SageMaker spot).",
    )
    publish_dir: Path | None = Field(
        None, description="Also link the merged model here, e.g. <home>/models/twin/<run_id>/."
    )

    max_steps: int | None = Field(None, ge=1, description="Optimizer steps; wins over epochs.")
    epochs: float | None = Field(None, gt=0, le=100, description="Passes over the train split.")
    learning_rate: float = Field(gt=0, le=1.0)
    batch_size: int = Field(ge=1, le=4096, description="Rows per device per forward pass.")
    grad_accumulation: int = Field(1, ge=1, le=4096, description="Forward passes per optimizer step.")
    max_length: int = Field(ge=16, le=131072, description="Tokens per sequence (prompt + completion).")
    seed: int = Field(42, ge=0)
    warmup_steps: int = Field(0, ge=0)
    lr_scheduler: Scheduler = "linear"
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    save_steps: int | None = Field(
        None, ge=1, description="Checkpoint every N steps (spot training); None: no intermediate checkpoints."
    )
    quantization: Quantization = Field(
        "none", description="qlora-4bit: load the base in 4-bit NF4 (needs CUDA and bitsandbytes)."
    )
    lora: LoraSettings

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> TrainConfig:
        if self.max_steps is None and self.epochs is None:
            raise ValueError("set max_steps or epochs (how long to train)")
        return self

    @property
    def effective_model_dir(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.output_dir

    @property
    def effective_checkpoint_dir(self) -> Path:
        return self.checkpoint_dir if self.checkpoint_dir is not None else self.output_dir / "checkpoints"

    def to_hyperparameters(self) -> dict[str, str]:
        """SageMaker hyperparameters (all strings, LoRA flattened), without the location fields;
        ``base_model`` is left out when it is an s3:// URI or a local path (it becomes the model channel).
        ``parse_config`` reads them back."""
        data = self.model_dump(mode="json", exclude={*LOCATION_FIELDS, "lora"}, exclude_none=True)
        if self.base_model.startswith("s3://") or Path(self.base_model).is_absolute():
            data.pop("base_model")
        for key, value in self.lora.model_dump(mode="json").items():
            data[f"lora_{key}"] = value
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


class SftConfig(TrainConfig):
    """Supervised fine-tuning on instruction samples; the loss covers the answer tokens only."""

    kind: Literal["sft"] = "sft"


class DpoConfig(TrainConfig):
    """Direct preference optimisation on preference samples, on top of the merged SFT model; the
    reference model is that base with the new adapter disabled."""

    kind: Literal["dpo"] = "dpo"
    beta: float = Field(
        gt=0, le=10.0, description="DPO temperature: how far the policy may move from the reference."
    )


CONFIG_CLASSES: dict[str, type[TrainConfig]] = {"sft": SftConfig, "dpo": DpoConfig}

_STRING_FIELDS = {"kind", "run_id", "base_model", "dataset_dir", *LOCATION_FIELDS}


def _decode(key: str, value: Any) -> Any:
    """A hyperparameter string back to its JSON value ("3" → 3, "true" → True, "null" → None, a
    JSON-quoted string → the string); strings that are not JSON stay as they are."""
    if not isinstance(value, str) or key in _STRING_FIELDS:
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
            return json.loads(value)
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _format_errors(kind: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(config)"
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        lines.append(f"  {where}: {err['msg']}{shown}")
    return f"invalid {kind} config:\n" + "\n".join(lines)


def parse_config(kind: Kind | str, data: Mapping[str, Any]) -> SftConfig | DpoConfig:
    """The one parser: a JSON object, SageMaker hyperparameters or CLI pairs to a validated config.

    Accepts a nested ``lora`` object or flattened ``lora_r``/``lora_alpha``/``lora_dropout``/
    ``lora_target_modules`` keys; ignores SageMaker's own ``sagemaker_*`` keys; raises
    :class:`ConfigError` naming every invalid or unknown field."""
    if kind not in CONFIG_CLASSES:
        raise ConfigError(f"unknown training kind {kind!r}: expected one of {', '.join(KINDS)}")
    values: dict[str, Any] = {}
    lora: dict[str, Any] = {}
    for raw_key, raw_value in data.items():
        key = str(raw_key).replace("-", "_")
        if key.startswith(_FOREIGN_PREFIXES):
            continue
        value = _decode(key, raw_value)
        if key == "lora":
            if isinstance(value, Mapping):
                lora.update(value)
            elif isinstance(value, LoraSettings):
                lora.update(value.model_dump())
            else:
                raise ConfigError(f"invalid {kind} config:\n  lora: must be an object (got {value!r})")
        elif key.startswith("lora_"):
            lora[key.removeprefix("lora_")] = value
        else:
            values[key] = value
    if values.get("kind", kind) != kind:
        raise ConfigError(f"invalid {kind} config:\n  kind: is {values['kind']!r}, expected {kind!r}")
    values["kind"] = kind
    if lora:
        values["lora"] = lora
    try:
        return CONFIG_CLASSES[kind].model_validate(values)  # type: ignore[return-value]
    except ValidationError as exc:
        raise ConfigError(_format_errors(str(kind), exc)) from None


def load_config_file(kind: Kind | str, path: Path) -> SftConfig | DpoConfig:
    """A config from a JSON file (a run's config.json reads back the same way)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a JSON object")
    return parse_config(kind, data)


def parse_cli_pairs(argv: Sequence[str]) -> dict[str, str]:
    """``--key value`` / ``--key=value`` pairs (how SageMaker passes hyperparameters to a script)."""
    pairs: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument {arg!r}: expected --key value pairs")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(argv):
                raise ConfigError(f"{arg} needs a value")
            key, value = arg[2:], argv[i + 1]
            i += 2
        pairs[key.replace("-", "_")] = value
    return pairs
