"""Configuration of the SageMaker LMI endpoint (``infra/constructs/lmi_endpoint.py``), from CDK context.

Like :mod:`infra.training_config`, a module of its own that :mod:`infra.config` imports (no CDK import,
nothing read at import time). The endpoint's name and variant come from the API config
(``lmiEndpointName``, ``lmiVariantName``): the API function invokes exactly that endpoint.

| context key | default | what |
|---|---|---|
| ``endpointEnabled`` | ``false`` | model + endpoint config + endpoint (a GPU instance bills per hour) |
| ``endpointModelPackageArn`` | — | an **Approved** version of ``<prefix>-twin`` (image + S3 data) |
| ``endpointModelDataUrl`` | — | or an uncompressed ``s3://.../merged/`` prefix + the pinned LMI image |
| ``endpointInstanceType`` / ``endpointInstanceCount`` | ``ml.g5.xlarge`` / 1 | the variant's instances |
| ``endpointMinInstances`` / ``endpointMaxInstances`` | 1 / 2 | application autoscaling bounds |
| ``endpointInvocationsPerInstance`` | 30 | target tracking: invocations per instance per minute |
| ``endpointScaleOutCooldownSeconds`` / ``endpointScaleInCooldownSeconds`` | 300 / 900 | cooldowns |
| ``endpointHealthCheckTimeoutSeconds`` / ``endpointModelDownloadTimeoutSeconds`` | 900 / 900 | startup |
| ``endpointMaxModelLen`` / ``endpointTensorParallelDegree`` / ``endpointDtype`` | 4096 / max / bf16 | LMI |
| ``endpointMaxBatchSize`` / ``endpointEngine`` | 32 / ``async`` | LMI (``async`` or ``rolling-batch``) |
| ``endpointLatencyAlarmMs`` | 20000 | ModelLatency p95 alarm threshold |
| ``endpointSchedule`` | disabled | working hours (``scale``/``stop``/object): ``EndpointScheduleConfig`` |

Exactly one of ``endpointModelPackageArn`` / ``endpointModelDataUrl`` is required when the endpoint is
enabled: the first deploy of an environment has no approved model yet, so the endpoint is off by default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from infra.config_values import (
    DISABLED,
    ML_INSTANCE,
    SCHEDULE_EXPRESSION,
    config_error,
    parse_bool,
    parse_int,
)
from training.sagemaker.deploy import DTYPES, ENGINES, MAX_STARTUP_TIMEOUT_S, PACKAGE_ARN, ServingOptions

_S3_PREFIX = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.+/)$")
MAX_INSTANCES = 20
ScheduleMode = Literal["scale", "stop"]


@dataclass(frozen=True)
class EndpointScheduleConfig:
    """Working hours for the endpoint, in ``time_zone``; deployed only when ``enabled``.

    ``mode``:

    * ``scale`` — Application Auto Scaling scheduled actions on the variant's scalable target: at
      ``down_expression`` min/max become ``1``/``off_hours_max_instances``, at ``up_expression`` the
      configured min/max again. A variant endpoint cannot scale below one instance, so this saves only
      the instances above one.
    * ``stop`` — two EventBridge Scheduler schedules (universal targets): ``sagemaker:DeleteEndpoint`` at
      ``down_expression`` and ``sagemaker:CreateEndpoint`` (the stack's endpoint config) at
      ``up_expression``. Zero instances at night; the endpoint is then owned by the schedules, not by
      CloudFormation (no autoscaling; ~5-10 min to InService each morning).
    """

    enabled: bool = False
    mode: ScheduleMode = "scale"
    up_expression: str = "cron(0 8 ? * MON-FRI *)"  # working days 08:00
    down_expression: str = "cron(0 19 ? * MON-FRI *)"  # working days 19:00
    time_zone: str = "UTC"
    off_hours_max_instances: int = 1  # scale mode: max capacity outside working hours
    retry_attempts: int = 2  # stop mode: Scheduler retries, then the dead-letter queue
    max_event_age_minutes: int = 60


@dataclass(frozen=True)
class EndpointConfig:
    enabled: bool = False
    model_package_arn: str = ""
    model_data_url: str = ""
    instance_type: str = "ml.g5.xlarge"
    instance_count: int = 1
    min_instances: int = 1
    max_instances: int = 2
    invocations_per_instance: int = 30  # per minute (SageMakerVariantInvocationsPerInstance)
    scale_out_cooldown_seconds: int = 300
    scale_in_cooldown_seconds: int = 900
    health_check_timeout_seconds: int = 900
    model_download_timeout_seconds: int = 900
    serving: ServingOptions = field(default_factory=ServingOptions)
    latency_alarm_ms: int = 20_000
    schedule: EndpointScheduleConfig = field(default_factory=EndpointScheduleConfig)

    @property
    def model_source(self) -> Literal["package", "s3", "none"]:
        if self.model_package_arn:
            return "package"
        return "s3" if self.model_data_url else "none"

    @property
    def cloudformation_owns_endpoint(self) -> bool:
        """False in ``stop`` mode: the schedules create and delete the endpoint."""
        return self.enabled and not (self.schedule.enabled and self.schedule.mode == "stop")


def _expression(key: str, raw: Any, default: str) -> str:
    text = default if raw is None else str(raw).strip()
    if not SCHEDULE_EXPRESSION.match(text):
        raise config_error(f"{key}: not a cron()/rate()/at() expression: {text!r}")
    return text


def parse_endpoint_schedule(value: Any) -> EndpointScheduleConfig:
    """An object (cdk.json), a JSON string, ``disabled``/``off``, ``scale``/``stop`` (enables that mode
    with the default hours) or a bool."""
    default = EndpointScheduleConfig()
    if value is None:
        return default
    if isinstance(value, bool):
        return EndpointScheduleConfig(enabled=value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in DISABLED:
            return default
        if text in ("scale", "stop"):
            return EndpointScheduleConfig(enabled=True, mode=text)  # type: ignore[arg-type]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise config_error(
                f"endpointSchedule: 'scale', 'stop', 'disabled' or a JSON object ({exc})"
            ) from None
    if not isinstance(value, Mapping):
        raise config_error(f"endpointSchedule: expected an object or a string, got {value!r}")
    allowed = {
        "enabled",
        "mode",
        "upExpression",
        "downExpression",
        "timeZone",
        "offHoursMaxInstances",
        "retryAttempts",
        "maxEventAgeMinutes",
    }
    unknown = set(value) - allowed
    if unknown:
        raise config_error(f"endpointSchedule: unknown keys {sorted(unknown)}")
    mode = str(value.get("mode", default.mode)).strip()
    if mode not in ("scale", "stop"):
        raise config_error(f"endpointSchedule.mode: 'scale' or 'stop', got {mode!r}")
    time_zone = str(value.get("timeZone", default.time_zone)).strip()
    if not time_zone or " " in time_zone:
        raise config_error(f"endpointSchedule.timeZone: not an IANA time zone: {time_zone!r}")
    cfg = EndpointScheduleConfig(
        enabled=parse_bool("endpointSchedule.enabled", value.get("enabled"), True),
        mode=mode,  # type: ignore[arg-type]
        up_expression=_expression(
            "endpointSchedule.upExpression", value.get("upExpression"), default.up_expression
        ),
        down_expression=_expression(
            "endpointSchedule.downExpression", value.get("downExpression"), default.down_expression
        ),
        time_zone=time_zone,
        off_hours_max_instances=parse_int(
            "endpointSchedule.offHoursMaxInstances",
            value.get("offHoursMaxInstances"),
            default.off_hours_max_instances,
            1,
            MAX_INSTANCES,
        ),
        retry_attempts=parse_int(
            "endpointSchedule.retryAttempts", value.get("retryAttempts"), default.retry_attempts, 0, 185
        ),
        max_event_age_minutes=parse_int(
            "endpointSchedule.maxEventAgeMinutes",
            value.get("maxEventAgeMinutes"),
            default.max_event_age_minutes,
            1,
            1440,
        ),
    )
    if cfg.up_expression == cfg.down_expression:
        raise config_error("endpointSchedule: upExpression and downExpression must differ")
    return cfg


def _serving(get: Callable[[str], Any]) -> ServingOptions:
    default = ServingOptions()
    tp = str(get("endpointTensorParallelDegree") or default.tensor_parallel_degree).strip().lower()
    dtype = str(get("endpointDtype") or default.dtype).strip().lower()
    engine = str(get("endpointEngine") or default.engine).strip().lower()
    if tp != "max" and tp not in ("1", "2", "4", "8"):
        raise config_error(f"endpointTensorParallelDegree: 'max', 1, 2, 4 or 8, got {tp!r}")
    if dtype not in DTYPES:
        raise config_error(f"endpointDtype: one of {DTYPES}, got {dtype!r}")
    if engine not in ENGINES:
        raise config_error(f"endpointEngine: one of {ENGINES}, got {engine!r}")
    return ServingOptions(
        max_model_len=parse_int(
            "endpointMaxModelLen", get("endpointMaxModelLen"), default.max_model_len, 256, 131_072
        ),
        tensor_parallel_degree=tp,
        dtype=dtype,
        max_batch_size=parse_int(
            "endpointMaxBatchSize", get("endpointMaxBatchSize"), default.max_batch_size, 1, 1024
        ),
        engine=engine,
    )


def parse_endpoint_config(get: Callable[[str], Any]) -> EndpointConfig:
    """Build and validate the endpoint config from a lookup ``key -> value or None`` (context, then env)."""
    default = EndpointConfig()
    enabled = parse_bool("endpointEnabled", get("endpointEnabled"), default.enabled)
    package = str(get("endpointModelPackageArn") or "").strip()
    data_url = str(get("endpointModelDataUrl") or "").strip()
    if package and not PACKAGE_ARN.match(package):
        raise config_error(
            "endpointModelPackageArn: a versioned model package ARN "
            f"(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>), got {package!r}"
        )
    if data_url and not _S3_PREFIX.match(data_url):
        raise config_error(
            "endpointModelDataUrl: an uncompressed model folder s3://<bucket>/<prefix>/ (with the trailing "
            f"'/': SageMaker copies every object under it), got {data_url!r}"
        )
    if package and data_url:
        raise config_error("endpointModelPackageArn and endpointModelDataUrl: set one, not both")
    if enabled and not (package or data_url):
        raise config_error(
            "endpointEnabled=true needs the model: endpointModelPackageArn (an Approved version of the "
            "model package group) or endpointModelDataUrl (s3://<artifacts bucket>/models/<job>/output/model/"
            "merged/); until a model is approved, keep the endpoint disabled or use `llm-twin deploy`"
        )
    instance_type = str(get("endpointInstanceType") or default.instance_type).strip()
    if not ML_INSTANCE.match(instance_type):
        raise config_error(
            f"endpointInstanceType: a SageMaker instance type (ml.g5.xlarge), got {instance_type!r}"
        )
    min_instances = parse_int(
        "endpointMinInstances", get("endpointMinInstances"), default.min_instances, 1, MAX_INSTANCES
    )
    max_instances = parse_int(
        "endpointMaxInstances", get("endpointMaxInstances"), default.max_instances, 1, MAX_INSTANCES
    )
    if max_instances < min_instances:
        raise config_error(
            f"endpointMaxInstances ({max_instances}) must be >= endpointMinInstances ({min_instances})"
        )
    count = parse_int(
        "endpointInstanceCount",
        get("endpointInstanceCount"),
        max(default.instance_count, min_instances),
        1,
        MAX_INSTANCES,
    )
    if not min_instances <= count <= max_instances:
        raise config_error(
            f"endpointInstanceCount ({count}) must be within endpointMinInstances..endpointMaxInstances "
            f"({min_instances}..{max_instances})"
        )
    schedule = parse_endpoint_schedule(get("endpointSchedule"))
    if schedule.enabled and not enabled:
        raise config_error("endpointSchedule: enabled but endpointEnabled is false (nothing to schedule)")
    if schedule.enabled and schedule.mode == "scale" and schedule.off_hours_max_instances > max_instances:
        raise config_error(
            f"endpointSchedule.offHoursMaxInstances ({schedule.off_hours_max_instances}) must be <= "
            f"endpointMaxInstances ({max_instances})"
        )
    return EndpointConfig(
        enabled=enabled,
        model_package_arn=package,
        model_data_url=data_url,
        instance_type=instance_type,
        instance_count=count,
        min_instances=min_instances,
        max_instances=max_instances,
        invocations_per_instance=parse_int(
            "endpointInvocationsPerInstance",
            get("endpointInvocationsPerInstance"),
            default.invocations_per_instance,
            1,
            100_000,
        ),
        scale_out_cooldown_seconds=parse_int(
            "endpointScaleOutCooldownSeconds",
            get("endpointScaleOutCooldownSeconds"),
            default.scale_out_cooldown_seconds,
            0,
            3600,
        ),
        scale_in_cooldown_seconds=parse_int(
            "endpointScaleInCooldownSeconds",
            get("endpointScaleInCooldownSeconds"),
            default.scale_in_cooldown_seconds,
            0,
            3600,
        ),
        health_check_timeout_seconds=parse_int(
            "endpointHealthCheckTimeoutSeconds",
            get("endpointHealthCheckTimeoutSeconds"),
            default.health_check_timeout_seconds,
            60,
            MAX_STARTUP_TIMEOUT_S,
        ),
        model_download_timeout_seconds=parse_int(
            "endpointModelDownloadTimeoutSeconds",
            get("endpointModelDownloadTimeoutSeconds"),
            default.model_download_timeout_seconds,
            60,
            MAX_STARTUP_TIMEOUT_S,
        ),
        serving=_serving(get),
        latency_alarm_ms=parse_int(
            "endpointLatencyAlarmMs", get("endpointLatencyAlarmMs"), default.latency_alarm_ms, 100, 600_000
        ),
        schedule=schedule,
    )
