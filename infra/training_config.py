"""Configuration of the training workflow (issue 5): the ``training*`` CDK context keys.

Kept apart from :mod:`infra.config` only to avoid an import cycle (``infra.config`` imports this module;
``infra.constructs`` imports ``infra.config``). No CDK import here, nothing read at import time.

| context key | default | what |
|---|---|---|
| ``baseModelId`` | ``Qwen/Qwen2.5-7B-Instruct`` | Hugging Face Hub id SFT starts from (ChatML, ungated) |
| ``hfTokenSecretName`` | none | secret with the HF token, for a gated base model (e.g. Llama 3.1) |
| ``datasetModelId`` | ``anthropic.claude-3-haiku-20240307-v1:0`` | Bedrock model that writes the datasets |
| ``judgeModelId`` | = ``datasetModelId`` | Bedrock model of the evaluation's LLM judge |
| ``datasetConcurrency`` | 4 | parallel Bedrock calls of the dataset build |
| ``processing{InstanceType,VolumeGb,MaxRuntimeMinutes}`` | ``ml.m5.xlarge`` / 30 / 240 | dataset job |
| ``training{InstanceType,VolumeGb,MaxRuntimeMinutes}`` | ``ml.g5.2xlarge`` / 100 / 480 | SFT, DPO |
| ``trainingSpot`` / ``trainingMaxWaitMinutes`` | true / 2 x runtime | managed spot + its wait bound |
| ``evaluation{InstanceType,VolumeGb,MaxRuntimeMinutes}`` | ``ml.g5.2xlarge`` / 100 / 120 | evaluate |
| ``trainingRetryAttempts`` | 2 | SageMaker RetryStrategy, 1..30 in-place restarts |
| ``sftHyperparameters`` / ``dpoHyperparameters`` | see below | JSON objects merged over the defaults |
| ``checkpointRetentionDays`` / ``noncurrentVersionDays`` | 7 / 30 | bucket lifecycle |
| ``modelPackageGroupName`` | ``<prefix>-twin`` | SageMaker Model Registry group |
| ``trainingImageUri`` / ``processingImageUri`` / ``inferenceImageUri`` | pinned DLCs | overrides |
| ``trainingSchedule`` | disabled | object/JSON/expression/``disabled``, like ``recrawlSchedule`` |
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from infra.config_values import (
    DISABLED,
    ML_INSTANCE,
    SCHEDULE_EXPRESSION,
    config_error,
    parse_bool,
    parse_int,
)

MAX_RUNTIME_MINUTES = 28 * 24 * 60  # SageMaker training jobs: 28 days
MAX_PROCESSING_RUNTIME_MINUTES = 5 * 24 * 60  # Processing jobs: 5 days
# The default base model is gated on the Hugging Face Hub: the jobs read the token from this secret.
# Qwen2.5-7B-Instruct: Apache-2.0, ungated (no token, no secret to create by hand) and ChatML-native,
# the chat template training and serving share (a Llama 3.x base needs new special tokens: docs/training.md).
DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-7B-Instruct"
DEFAULT_HF_TOKEN_SECRET = ""  # a gated base model needs one: hfTokenSecretName=<secret name>
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_BEDROCK_ID = re.compile(r"^([a-z]{2,4}\.)?[a-z0-9-]+\.[A-Za-z0-9._:-]+$")  # [us.]anthropic.claude-...:0
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_IMAGE_URI = re.compile(r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.[a-z0-9.]+/[a-z0-9._/-]+:[A-Za-z0-9._-]+$")

# A 7-8B model on one A10G (24 GB, ml.g5.2xlarge): QLoRA, LoRA r=16 on all linear layers.
# training.finetune.config validates the merged result at synth time (TrainingWorkflow).
DEFAULT_SFT_HYPERPARAMETERS: Mapping[str, Any] = MappingProxyType(
    {
        "quantization": "qlora-4bit",
        "epochs": 3,
        "learning_rate": 2e-4,
        "batch_size": 2,
        "grad_accumulation": 8,
        "max_length": 2048,
        "warmup_steps": 10,
        "lr_scheduler": "cosine",
        "save_steps": 50,  # checkpoints for spot interruptions (synced to S3)
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_target_modules": "all-linear",
    }
)
DEFAULT_DPO_HYPERPARAMETERS: Mapping[str, Any] = MappingProxyType(
    {
        "quantization": "qlora-4bit",
        "epochs": 1,
        "learning_rate": 2e-5,
        "beta": 0.1,
        "batch_size": 1,
        "grad_accumulation": 8,
        "max_length": 1536,
        "warmup_steps": 10,
        "lr_scheduler": "cosine",
        "save_steps": 50,
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_target_modules": "all-linear",
    }
)


@dataclass(frozen=True)
class TrainingScheduleConfig:
    """EventBridge Scheduler start of the training workflow; deployed DISABLED unless enabled."""

    enabled: bool = False
    expression: str = "cron(0 4 ? * SUN *)"  # Sundays 04:00
    time_zone: str = "UTC"
    retry_attempts: int = 2
    max_event_age_minutes: int = 60


@dataclass(frozen=True)
class JobResources:
    """One job's compute: instance type, EBS volume, maximum run time."""

    instance_type: str
    volume_gb: int
    max_runtime_minutes: int

    @property
    def max_runtime_seconds(self) -> int:
        return self.max_runtime_minutes * 60


@dataclass(frozen=True)
class TrainingConfig:
    base_model_id: str = DEFAULT_BASE_MODEL
    hf_token_secret_name: str = DEFAULT_HF_TOKEN_SECRET  # "" = no token (an ungated base model)
    dataset_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    judge_model_id: str = ""  # "" = dataset_model_id
    dataset_concurrency: int = 4  # parallel Bedrock calls of the dataset build
    processing: JobResources = JobResources("ml.m5.xlarge", 30, 240)
    training: JobResources = JobResources("ml.g5.2xlarge", 100, 480)
    evaluation: JobResources = JobResources("ml.g5.2xlarge", 100, 120)
    spot: bool = True
    max_wait_minutes: int | None = None  # spot only; default 2 x training max runtime
    retry_attempts: int = 2
    sft_hyperparameters: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_SFT_HYPERPARAMETERS))
    dpo_hyperparameters: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_DPO_HYPERPARAMETERS))
    checkpoint_retention_days: int = 7
    noncurrent_version_days: int = 30
    model_package_group_name: str = ""  # "" = <prefix>-twin
    training_image_uri: str = ""  # "" = the pinned DLCs of training.sagemaker.images
    processing_image_uri: str = ""
    inference_image_uri: str = ""
    schedule: TrainingScheduleConfig = field(default_factory=TrainingScheduleConfig)

    @property
    def effective_judge_model_id(self) -> str:
        return self.judge_model_id or self.dataset_model_id

    @property
    def effective_max_wait_minutes(self) -> int | None:
        if not self.spot:
            return None
        return self.max_wait_minutes or 2 * self.training.max_runtime_minutes

    def group_name(self, prefix: str) -> str:
        return self.model_package_group_name or f"{prefix}-twin"


def _text(key: str, raw: Any, default: str, pattern: re.Pattern[str] | None, what: str) -> str:
    text = default if raw is None else str(raw).strip()
    if text and pattern is not None and not pattern.match(text):
        raise config_error(f"{key}: {what}, got {text!r}")
    return text


def _secret_name(raw: Any) -> str:
    text = _text(
        "hfTokenSecretName", raw, DEFAULT_HF_TOKEN_SECRET, _SECRET_NAME, "a Secrets Manager secret name"
    )
    return "" if text.lower() in DISABLED else text


def _object(key: str, raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise config_error(f"{key}: invalid JSON ({exc})") from None
    if not isinstance(raw, Mapping):
        raise config_error(f"{key}: expected a JSON object, got {raw!r}")
    for name, value in raw.items():
        if not isinstance(value, str | int | float | bool) or value is None:
            raise config_error(f"{key}.{name}: hyperparameter values are strings, numbers or booleans")
    return dict(raw)


def _resources(get: Callable[[str], Any], name: str, default: JobResources, max_minutes: int) -> JobResources:
    instance = _text(
        f"{name}InstanceType",
        get(f"{name}InstanceType"),
        default.instance_type,
        ML_INSTANCE,
        "a SageMaker instance type (ml.g5.2xlarge)",
    )
    return JobResources(
        instance_type=instance or default.instance_type,
        volume_gb=parse_int(f"{name}VolumeGb", get(f"{name}VolumeGb"), default.volume_gb, 1, 16_384),
        max_runtime_minutes=parse_int(
            f"{name}MaxRuntimeMinutes",
            get(f"{name}MaxRuntimeMinutes"),
            default.max_runtime_minutes,
            1,
            max_minutes,
        ),
    )


def parse_training_schedule(value: Any) -> TrainingScheduleConfig:
    """An object (cdk.json), a JSON string, a bare expression (enables it), ``disabled``, or a bool."""
    default = TrainingScheduleConfig()
    if value is None:
        return default
    if isinstance(value, bool):
        return TrainingScheduleConfig(enabled=value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in DISABLED:
            return default
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise config_error(f"trainingSchedule: invalid JSON ({exc})") from None
        else:
            value = {"enabled": True, "expression": text}
    if not isinstance(value, Mapping):
        raise config_error(f"trainingSchedule: expected an object or a string, got {value!r}")
    unknown = set(value) - {"enabled", "expression", "timeZone", "retryAttempts", "maxEventAgeMinutes"}
    if unknown:
        raise config_error(f"trainingSchedule: unknown keys {sorted(unknown)}")
    cfg = TrainingScheduleConfig(
        enabled=parse_bool("trainingSchedule.enabled", value.get("enabled"), True),
        expression=str(value.get("expression", default.expression)).strip(),
        time_zone=str(value.get("timeZone", default.time_zone)).strip(),
        retry_attempts=parse_int(
            "trainingSchedule.retryAttempts", value.get("retryAttempts"), default.retry_attempts, 0, 185
        ),
        max_event_age_minutes=parse_int(
            "trainingSchedule.maxEventAgeMinutes",
            value.get("maxEventAgeMinutes"),
            default.max_event_age_minutes,
            1,
            1440,
        ),
    )
    if not SCHEDULE_EXPRESSION.match(cfg.expression):
        raise config_error(
            f"trainingSchedule.expression: not a cron()/rate()/at() expression: {cfg.expression!r}"
        )
    if not cfg.time_zone or " " in cfg.time_zone:
        raise config_error(f"trainingSchedule.timeZone: not an IANA time zone: {cfg.time_zone!r}")
    return cfg


def parse_training_config(get: Callable[[str], Any]) -> TrainingConfig:
    """Build and validate the training config from a lookup ``key -> value or None`` (context, then env)."""
    default = TrainingConfig()
    training = _resources(get, "training", default.training, MAX_RUNTIME_MINUTES)
    spot = parse_bool("trainingSpot", get("trainingSpot"), default.spot)
    max_wait_raw = get("trainingMaxWaitMinutes")
    max_wait = None
    if max_wait_raw not in (None, ""):
        if not spot:
            raise config_error(
                "trainingMaxWaitMinutes: only with trainingSpot=true (SageMaker rejects it otherwise)"
            )
        max_wait = parse_int(
            "trainingMaxWaitMinutes", max_wait_raw, 0, training.max_runtime_minutes, 2 * MAX_RUNTIME_MINUTES
        )
    image_what = "an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>)"
    cfg = TrainingConfig(
        base_model_id=_text(
            "baseModelId",
            get("baseModelId"),
            default.base_model_id,
            _HUB_ID,
            "a Hugging Face Hub id (org/name)",
        )
        or default.base_model_id,
        hf_token_secret_name=_secret_name(get("hfTokenSecretName")),
        dataset_model_id=_text(
            "datasetModelId",
            get("datasetModelId"),
            default.dataset_model_id,
            _BEDROCK_ID,
            "a Bedrock model id",
        )
        or default.dataset_model_id,
        judge_model_id=_text("judgeModelId", get("judgeModelId"), "", _BEDROCK_ID, "a Bedrock model id"),
        dataset_concurrency=parse_int(
            "datasetConcurrency", get("datasetConcurrency"), default.dataset_concurrency, 1, 64
        ),
        processing=_resources(get, "processing", default.processing, MAX_PROCESSING_RUNTIME_MINUTES),
        training=training,
        evaluation=_resources(get, "evaluation", default.evaluation, MAX_PROCESSING_RUNTIME_MINUTES),
        spot=spot,
        max_wait_minutes=max_wait,
        retry_attempts=parse_int(
            "trainingRetryAttempts", get("trainingRetryAttempts"), default.retry_attempts, 1, 30
        ),
        sft_hyperparameters={
            **DEFAULT_SFT_HYPERPARAMETERS,
            **_object("sftHyperparameters", get("sftHyperparameters")),
        },
        dpo_hyperparameters={
            **DEFAULT_DPO_HYPERPARAMETERS,
            **_object("dpoHyperparameters", get("dpoHyperparameters")),
        },
        checkpoint_retention_days=parse_int(
            "checkpointRetentionDays",
            get("checkpointRetentionDays"),
            default.checkpoint_retention_days,
            1,
            3650,
        ),
        noncurrent_version_days=parse_int(
            "noncurrentVersionDays", get("noncurrentVersionDays"), default.noncurrent_version_days, 1, 3650
        ),
        model_package_group_name=_text(
            "modelPackageGroupName",
            get("modelPackageGroupName"),
            "",
            _GROUP_NAME,
            "letters, digits and '-', max 63",
        ),
        training_image_uri=_text("trainingImageUri", get("trainingImageUri"), "", _IMAGE_URI, image_what),
        processing_image_uri=_text(
            "processingImageUri", get("processingImageUri"), "", _IMAGE_URI, image_what
        ),
        inference_image_uri=_text("inferenceImageUri", get("inferenceImageUri"), "", _IMAGE_URI, image_what),
        schedule=parse_training_schedule(get("trainingSchedule")),
    )
    for key in ("base_model", "dataset_dir", "output_dir", "model_dir", "kind"):
        if key in cfg.sft_hyperparameters or key in cfg.dpo_hyperparameters:
            raise config_error(f"{key}: set by the workflow (baseModelId, channels), not a hyperparameter")
    return cfg
