"""Launch one SFT or DPO run as a SageMaker training job with the SDK v3 ``ModelTrainer``.

``launch_training(kind, config, settings)`` is what ``llm-twin train sft|dpo --sagemaker`` calls:

* **code**: the repo's ``training`` + ``llm_twin`` packages and a requirements.txt
  (:func:`training.sagemaker.source.stage_source`), uploaded by the SDK under
  ``s3://<bucket>/code/``; the job runs ``python -m training.sagemaker.bootstrap training.finetune.<kind>``.
* **channels**: ``train`` = ``config.dataset_dir`` (an ``s3://`` dataset version folder, or a local one the
  SDK uploads); ``model`` = ``config.base_model`` when it is ``s3://`` or a local folder (DPO: the merged
  SFT model). A Hub id stays a hyperparameter and is downloaded by the job (``HF_TOKEN`` from Secrets
  Manager when :attr:`SageMakerSettings.hf_token_secret_name` is set — never the token itself).
* **hyperparameters**: ``config.to_hyperparameters()`` (strings; locations come from ``SM_*`` variables).
* **compute**: instance type/count/volume, max runtime, managed spot with ``MaxWaitTimeInSeconds`` and a
  checkpoint S3 URI (``s3://<bucket>/checkpoints/<job base name>/``, synced with ``/opt/ml/checkpoints``),
  and ``RetryStrategy`` (SageMaker restarts the job in place on internal/capacity errors).
* **outputs**: uncompressed under ``s3://<bucket>/models/<job name>/output/model/`` (``adapter/``,
  ``merged/``) — the same layout the training workflow produces, so a DPO launch can take
  ``.../output/model/merged/`` of an SFT job as ``base_model``.

The job name is ``<prefix>-<kind>-<8 hex>-<UTC timestamp>`` (unique per launch); it is returned.
Settings come from ``LLM_TWIN_SAGEMAKER_*`` variables (the training stack's outputs give the role and
the bucket).
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from training.sagemaker import images
from training.sagemaker.source import job_command, stage_source

if TYPE_CHECKING:
    from training.finetune.config import TrainConfig

Kind = Literal["sft", "dpo"]
ENTRY_MODULES: dict[str, str] = {"sft": "training.finetune.sft", "dpo": "training.finetune.dpo"}
CODE_PREFIX = "code"
MODELS_PREFIX = "models"
CHECKPOINTS_PREFIX = "checkpoints"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
MAX_RUNTIME_LIMIT_S = 28 * 24 * 3600  # SageMaker's MaxRuntimeInSeconds limit
_JOB_PREFIX = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,24}$"


class LaunchError(ValueError):
    """The launch request is inconsistent (kind vs config, missing data, bad settings)."""


class SageMakerSettings(BaseSettings):
    """Where and how a training job runs. Env: ``LLM_TWIN_SAGEMAKER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="LLM_TWIN_SAGEMAKER_", extra="ignore", populate_by_name=True)

    region: str = Field(
        "us-east-1",
        validation_alias=AliasChoices(
            "LLM_TWIN_SAGEMAKER_REGION", "LLM_TWIN_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"
        ),
    )
    role_arn: str = Field(min_length=20, description="The SageMaker execution role (stack output).")
    bucket: str = Field(min_length=3, description="The training artifacts bucket (stack output).")
    job_name_prefix: str = Field("llm-twin", pattern=_JOB_PREFIX, description="Job names start with it.")
    image_uri: str | None = Field(None, description="Default: the pinned Hugging Face training DLC.")
    instance_type: str = Field("ml.g5.2xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    instance_count: int = Field(1, ge=1, le=1, description="The entry points train on one instance.")
    volume_gb: int = Field(100, ge=1, le=16384)
    max_runtime_s: int = Field(8 * 3600, ge=60, le=MAX_RUNTIME_LIMIT_S)
    spot: bool = Field(True, description="Managed spot training (up to ~70% cheaper, may wait).")
    max_wait_s: int | None = Field(None, description="Spot: total wait + run time; default 2 x runtime.")
    retry_attempts: int = Field(2, ge=0, le=30, description="RetryStrategy: in-place restarts.")
    hf_token_secret_name: str | None = Field(None, description="Secrets Manager secret with the HF token.")
    telemetry: bool = Field(False, description="SageMaker SDK usage telemetry (off by default).")

    @field_validator("hf_token_secret_name", "image_uri", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _spot_wait(self) -> SageMakerSettings:
        if self.max_wait_s is not None:
            if not self.spot:
                raise ValueError("max_wait_s applies to spot training only (set spot=true)")
            if self.max_wait_s < self.max_runtime_s:
                raise ValueError("max_wait_s must be >= max_runtime_s")
            if self.max_wait_s > 2 * MAX_RUNTIME_LIMIT_S:
                raise ValueError("max_wait_s is too large")
        return self

    @property
    def effective_max_wait_s(self) -> int | None:
        if not self.spot:
            return None
        return self.max_wait_s if self.max_wait_s is not None else 2 * self.max_runtime_s

    @property
    def effective_image_uri(self) -> str:
        return self.image_uri or images.training_image_uri(self.region)


def base_job_name(prefix: str, kind: str) -> str:
    """``<prefix>-<kind>-<8 hex>``; the SDK appends ``-<YYYYmmddHHMMSS>``."""
    return f"{prefix}-{kind}-{uuid.uuid4().hex[:8]}"


def _is_local_dir(value: str) -> bool:
    return not value.startswith("s3://") and Path(value).is_dir()


def input_channels(config: TrainConfig) -> dict[str, str]:
    """Channel name -> data source (``s3://`` URI or local folder the SDK uploads)."""
    dataset = str(config.dataset_dir)
    if not (dataset.startswith("s3://") or _is_local_dir(dataset)):
        raise LaunchError(f"dataset_dir must be an s3:// URI or an existing folder, got {dataset!r}")
    channels = {"train": dataset}
    model = str(config.base_model)
    if model.startswith("s3://") or Path(model).is_absolute() or _is_local_dir(model):
        if not (model.startswith("s3://") or _is_local_dir(model)):
            raise LaunchError(f"base_model folder {model!r} does not exist")
        channels["model"] = model
    elif config.kind == "dpo":
        raise LaunchError("DPO trains on the merged SFT model: base_model must be s3:// or a local folder")
    return channels


def _session(settings: SageMakerSettings, boto_session: Any) -> Any:
    import boto3
    from sagemaker.core.helper.session_helper import Session

    sagemaker_config = None
    if not settings.telemetry:
        sagemaker_config = {
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        }
    return Session(
        boto_session=boto_session or boto3.Session(region_name=settings.region),
        default_bucket=settings.bucket,
        default_bucket_prefix=CODE_PREFIX,
        sagemaker_config=sagemaker_config,
    )


def build_trainer(
    kind: Kind,
    config: TrainConfig,
    settings: SageMakerSettings,
    *,
    source_dir: Path,
    boto_session: Any = None,
) -> tuple[Any, list[Any]]:
    """The configured ``ModelTrainer`` and its input channels (no AWS call is made)."""
    import warnings

    from sagemaker.core.shapes import OutputDataConfig, RetryStrategy
    from sagemaker.core.training.configs import (
        CheckpointConfig,
        Compute,
        InputData,
        SourceCode,
        StoppingCondition,
        Tag,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sagemaker.train import ModelTrainer

    if kind not in ENTRY_MODULES:
        raise LaunchError(f"unknown kind {kind!r}: expected sft or dpo")
    if config.kind != kind:
        raise LaunchError(f"the config is a {config.kind} config, not {kind}")
    channels = input_channels(config)
    name = base_job_name(settings.job_name_prefix, kind)
    bucket = settings.bucket
    environment = {}
    if settings.hf_token_secret_name:
        environment["LLM_TWIN_HF_TOKEN_SECRET_NAME"] = settings.hf_token_secret_name
    trainer = ModelTrainer(
        sagemaker_session=_session(settings, boto_session),
        role=settings.role_arn,
        base_job_name=name,
        training_image=settings.effective_image_uri,
        source_code=SourceCode(
            source_dir=str(source_dir),
            requirements="requirements.txt",
            command=job_command(ENTRY_MODULES[kind]),
        ),
        compute=Compute(
            instance_type=settings.instance_type,
            instance_count=settings.instance_count,
            volume_size_in_gb=settings.volume_gb,
            enable_managed_spot_training=settings.spot,
        ),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=settings.max_runtime_s,
            **({"max_wait_time_in_seconds": settings.effective_max_wait_s} if settings.spot else {}),
        ),
        output_data_config=OutputDataConfig(
            s3_output_path=f"s3://{bucket}/{MODELS_PREFIX}/", compression_type="NONE"
        ),
        checkpoint_config=CheckpointConfig(
            s3_uri=f"s3://{bucket}/{CHECKPOINTS_PREFIX}/{name}/", local_path=CHECKPOINT_LOCAL_PATH
        ),
        hyperparameters=config.to_hyperparameters(),
        environment=environment,
        tags=[
            Tag(key="project", value="llm-twin"),
            Tag(key="llm-twin:kind", value=kind),
        ],
    )
    if settings.retry_attempts:
        trainer = trainer.with_retry_strategy(RetryStrategy(maximum_retry_attempts=settings.retry_attempts))
    inputs = [InputData(channel_name=channel, data_source=source) for channel, source in channels.items()]
    return trainer, inputs


def launch_training(
    kind: Kind,
    config: TrainConfig,
    settings: SageMakerSettings,
    *,
    boto_session: Any = None,
    wait: bool = False,
) -> str:
    """Create the training job and return its name (``wait=True`` also streams its logs to the end)."""
    with tempfile.TemporaryDirectory(prefix="llm-twin-sagemaker-") as tmp:
        source_dir = stage_source(Path(tmp) / "source")
        trainer, inputs = build_trainer(
            kind, config, settings, source_dir=source_dir, boto_session=boto_session
        )
        trainer.train(input_data_config=inputs, wait=wait, logs=wait)
        job = trainer._latest_training_job  # the SDK's documented handle on the job it created
        if job is None:
            raise RuntimeError("ModelTrainer.train() returned without creating a training job")
        return str(job.training_job_name)
