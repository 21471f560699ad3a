"""Typed configuration of the CDK app, read from CDK context (``-c key=value`` or cdk.json) and env.

Precedence per key: CDK context > environment variable ``LLM_TWIN_CDK_<KEY>`` > default below.
Nothing is read at import time: call :func:`load_config` with the app (or any construct).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from constructs import Construct

from infra.config_values import DISABLED, SCHEDULE_EXPRESSION
from infra.endpoint_config import EndpointConfig, parse_endpoint_config
from infra.training_config import TrainingConfig, parse_training_config
from llm_twin.features.stream_filter import STREAM_BATCH_SIZE
from llm_twin.rag.settings import RERANK_MODEL_ID

# Lambda-supported CloudWatch Logs retention periods (days).
VALID_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                        2557, 2922, 3288, 3653)  # fmt: skip
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_MAP_CONCURRENCY = 40  # llm_twin.settings.Settings.crawl_max_concurrency upper bound

# 12 characters: SageMaker job names (max 63) are "llm-twin-<env>-<step>-<36-char execution name>".
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+\.search$")  # t3.small.search, r7g.large.search
_INDEX_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")  # = llm_twin.settings index_name; no wildcard
_MODEL_ID = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9._:-]+$")  # Bedrock model id: amazon.titan-embed-text-v2:0
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Lowercase only: SageMaker writes endpoint names lowercased in ARNs, so a grant on a mixed-case name
# would never match.
_ENDPOINT_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")
_WEB_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")  # scheme://host[:port], no path
MAX_INTEGRATION_TIMEOUT_S = 300  # regional REST APIs, after a service quota increase above 29 s
TITAN_V2_DIMENSIONS = (256, 512, 1024)  # amazon.titan-embed-text-v2:0 output sizes
MAX_KNN_DIMENSION = 16_000  # OpenSearch k-NN (faiss engine) limit
RERANKERS = ("local", "bedrock", "none")  # llm_twin.rag.settings.RagSettings.reranker
# Bedrock Rerank models and their (single-region) Regions, from "Supported Regions and models for
# reranking in Amazon Bedrock" (docs.aws.amazon.com/bedrock/latest/userguide/rerank-supported.html).
# A pinned region outside the list fails synth; add a region here when AWS lists it.
RERANK_MODEL_REGIONS = {
    "amazon.rerank-v1:0": ("ap-northeast-1", "ca-central-1", "eu-central-1", "us-west-2"),
    "cohere.rerank-v3-5:0": ("ap-northeast-1", "ca-central-1", "eu-central-1", "us-east-1", "us-west-2"),
}

RemovalMode = Literal["retain", "destroy"]


class ConfigError(ValueError):
    """A context/env value is invalid; the message names the key."""


@dataclass(frozen=True)
class RecrawlScheduleConfig:
    """EventBridge Scheduler expression that re-crawls every author (``{"all_authors": true}``)."""

    enabled: bool = True
    expression: str = "cron(0 3 ? * MON *)"  # Mondays 03:00
    time_zone: str = "UTC"
    retry_attempts: int = 3
    max_event_age_minutes: int = 60


@dataclass(frozen=True)
class VectorIndexConfig:
    """The managed OpenSearch domain (k-NN) and the index alias the functions use."""

    instance_type: str = "t3.small.search"
    instance_count: int = 1
    availability_zones: int = 1  # > 1 enables zone awareness (instance_count must be a multiple)
    ebs_gb: int = 10  # gp3
    index_name: str = "llm-twin-chunks"


@dataclass(frozen=True)
class FeaturePipelineConfig:
    """The feature indexer: its DynamoDB stream event source mapping and the embedding model."""

    batch_size: int = STREAM_BATCH_SIZE
    batch_window_seconds: int = 10
    parallelization_factor: int = 1
    embedding_model: str = "amazon.titan-embed-text-v2:0"
    embedding_dimension: int = 1024


@dataclass(frozen=True)
class ApiConfig:
    """The RAG inference API: API Gateway usage plan, CORS, timeouts, the LMI endpoint it calls."""

    rate_limit: int = 5  # requests/s: the usage plan (per key) and the stage's method throttling
    burst_limit: int = 10
    monthly_quota: int = 10_000  # requests per key and month
    integration_timeout_seconds: int = 29  # API Gateway's default; > 29 needs a quota increase
    web_origin: str = ""  # CORS allowed origin (https://twin.example.com); empty: no CORS
    lmi_endpoint_name: str = ""  # empty: llm-twin-<env>-lmi (see InfraConfig.lmi_endpoint_name)
    lmi_variant_name: str = "AllTraffic"
    traces_retention_days: int = 30  # prompt traces expire (DynamoDB TTL) after this
    latency_alarm_ms: int = 10_000  # p95 of the API's Latency
    reranker: str = "local"  # local rescoring | bedrock (Bedrock Rerank, local fallback) | none
    rerank_model: str = "amazon.rerank-v1:0"  # Bedrock reranking model, when reranker is bedrock


@dataclass(frozen=True)
class InfraConfig:
    env_name: str = "dev"
    account: str | None = None
    region: str | None = None
    removal_policy: RemovalMode = "retain"
    log_retention_days: int = 30
    log_level: str = "INFO"
    crawl_max_concurrency: int = 4
    crawl_reserved_concurrency: int | None = None
    recrawl: RecrawlScheduleConfig = field(default_factory=RecrawlScheduleConfig)
    vector: VectorIndexConfig = field(default_factory=VectorIndexConfig)
    features: FeaturePipelineConfig = field(default_factory=FeaturePipelineConfig)
    alarm_email: str | None = None
    api: ApiConfig = field(default_factory=ApiConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)

    @property
    def collection_state_machine_name(self) -> str:
        return f"{self.prefix}-collection"

    @property
    def training_state_machine_name(self) -> str:
        """Named, so the API (built before the training stack) addresses it by ARN, not by import."""
        return f"{self.prefix}-training"

    @property
    def lmi_endpoint_name(self) -> str:
        """The SageMaker LMI endpoint the API invokes (``lmiEndpointName``, default ``<prefix>-lmi``)."""
        return self.api.lmi_endpoint_name or f"{self.prefix}-lmi"

    @property
    def prefix(self) -> str:
        """Prefix of CloudFormation stack names and the few physical names (``llm-twin-dev``)."""
        return f"llm-twin-{self.env_name}"

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"


def _as_int(key: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected an integer, got {value!r}") from None


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on", "enabled"}:
        return True
    if text in DISABLED:
        return False
    raise ConfigError(f"{key}: expected a boolean, got {value!r}")


def _parse_schedule(value: Any) -> RecrawlScheduleConfig:
    """Accepts an object (cdk.json), a JSON string, an expression, or ``disabled``/``off``/``false``."""
    if value is None:
        return RecrawlScheduleConfig()
    if isinstance(value, bool):
        return RecrawlScheduleConfig(enabled=value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in DISABLED:
            return RecrawlScheduleConfig(enabled=False)
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"recrawlSchedule: invalid JSON ({exc})") from None
        else:
            value = {"expression": text}
    if not isinstance(value, Mapping):
        raise ConfigError(f"recrawlSchedule: expected an object or a string, got {value!r}")
    unknown = set(value) - {"enabled", "expression", "timeZone", "retryAttempts", "maxEventAgeMinutes"}
    if unknown:
        raise ConfigError(f"recrawlSchedule: unknown keys {sorted(unknown)}")
    default = RecrawlScheduleConfig()
    cfg = RecrawlScheduleConfig(
        enabled=_as_bool("recrawlSchedule.enabled", value.get("enabled", True)),
        expression=str(value.get("expression", default.expression)).strip(),
        time_zone=str(value.get("timeZone", default.time_zone)).strip(),
        retry_attempts=_as_int(
            "recrawlSchedule.retryAttempts", value.get("retryAttempts", default.retry_attempts)
        ),
        max_event_age_minutes=_as_int(
            "recrawlSchedule.maxEventAgeMinutes",
            value.get("maxEventAgeMinutes", default.max_event_age_minutes),
        ),
    )
    if not SCHEDULE_EXPRESSION.match(cfg.expression):
        raise ConfigError(
            f"recrawlSchedule.expression: not a cron()/rate()/at() expression: {cfg.expression!r}"
        )
    if not cfg.time_zone or " " in cfg.time_zone:
        raise ConfigError(f"recrawlSchedule.timeZone: not an IANA time zone: {cfg.time_zone!r}")
    if not 0 <= cfg.retry_attempts <= 185:
        raise ConfigError("recrawlSchedule.retryAttempts: must be 0..185 (EventBridge Scheduler limit)")
    if not 1 <= cfg.max_event_age_minutes <= 1440:
        raise ConfigError("recrawlSchedule.maxEventAgeMinutes: must be 1..1440 (EventBridge Scheduler limit)")
    return cfg


def _int_or(get: Callable[[str], Any], key: str, default: int, low: int, high: int) -> int:
    """An integer in ``low..high``; unset (None or "") means ``default`` (0 is a value, not unset)."""
    raw = get(key)
    value = default if raw is None or raw == "" else _as_int(key, raw)
    if not low <= value <= high:
        raise ConfigError(f"{key}: must be {low}..{high}, got {value}")
    return value


def _parse_vector(get: Callable[[str], Any]) -> VectorIndexConfig:
    default = VectorIndexConfig()
    instance_type = str(get("vectorInstanceType") or default.instance_type).strip().lower()
    if not _INSTANCE_TYPE.match(instance_type):
        raise ConfigError(
            f"vectorInstanceType: an OpenSearch instance type (t3.small.search), got {instance_type!r}"
        )
    if instance_type.startswith("t2."):
        raise ConfigError("vectorInstanceType: t2 instances do not support encryption at rest")
    count = _int_or(get, "vectorInstanceCount", default.instance_count, 1, 80)
    zones = _int_or(get, "vectorAvailabilityZones", default.availability_zones, 1, 3)
    if count % zones:
        raise ConfigError(
            f"vectorInstanceCount ({count}) must be a multiple of vectorAvailabilityZones ({zones})"
        )
    index_name = str(get("indexName") or default.index_name).strip()
    if not _INDEX_NAME.match(index_name):
        raise ConfigError(
            f"indexName: a lowercase letter, then letters, digits, '-' (max 64); got {index_name!r}"
        )
    return VectorIndexConfig(
        instance_type=instance_type,
        instance_count=count,
        availability_zones=zones,
        ebs_gb=_int_or(get, "vectorEbsGb", default.ebs_gb, 10, 16_384),  # gp3 minimum is 10 GiB
        index_name=index_name,
    )


def _parse_features(get: Callable[[str], Any]) -> FeaturePipelineConfig:
    default = FeaturePipelineConfig()
    model = str(get("embeddingModel") or default.embedding_model).strip()
    if not _MODEL_ID.match(model):
        raise ConfigError(f"embeddingModel: a Bedrock model id (amazon.titan-embed-text-v2:0), got {model!r}")
    dimension = _int_or(get, "embeddingDimension", default.embedding_dimension, 1, MAX_KNN_DIMENSION)
    if model.startswith("amazon.titan-embed-text-v2") and dimension not in TITAN_V2_DIMENSIONS:
        raise ConfigError(f"embeddingDimension: {model} produces {TITAN_V2_DIMENSIONS}, got {dimension}")
    return FeaturePipelineConfig(
        batch_size=_int_or(get, "featureBatchSize", default.batch_size, 1, 10_000),  # DynamoDB ESM limit
        batch_window_seconds=_int_or(get, "featureBatchWindowSeconds", default.batch_window_seconds, 0, 300),
        parallelization_factor=_int_or(get, "featureParallelization", default.parallelization_factor, 1, 10),
        embedding_model=model,
        embedding_dimension=dimension,
    )


def _parse_email(value: Any) -> str | None:
    text = str(value or "").strip()
    if text.lower() in DISABLED:
        return None
    if not _EMAIL.match(text):
        raise ConfigError(f"alarmEmail: not an email address: {text!r}")
    return text


def _parse_api(get: Callable[[str], Any]) -> ApiConfig:
    default = ApiConfig()
    rate = _int_or(get, "apiRateLimit", default.rate_limit, 1, 10_000)
    burst = _int_or(get, "apiBurstLimit", default.burst_limit, 1, 5_000)
    if burst < rate:
        raise ConfigError(f"apiBurstLimit ({burst}) must be >= apiRateLimit ({rate})")
    origin = str(get("webOrigin") or "").strip().rstrip("/")
    if origin and not _WEB_ORIGIN.match(origin):
        raise ConfigError(
            f"webOrigin: one origin like https://twin.example.com (no path, no '*'); got {origin!r}"
        )
    endpoint = str(get("lmiEndpointName") or "").strip()
    if endpoint and not _ENDPOINT_NAME.match(endpoint):
        raise ConfigError(
            f"lmiEndpointName: lowercase letters, digits and '-', max 63 (SageMaker ARNs are lowercase); "
            f"got {endpoint!r}"
        )
    variant = str(get("lmiVariantName") or default.lmi_variant_name).strip()
    if not re.match(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", variant):
        raise ConfigError(f"lmiVariantName: a SageMaker production variant name, got {variant!r}")
    reranker, rerank_model = _parse_reranker(get)
    return ApiConfig(
        rate_limit=rate,
        burst_limit=burst,
        monthly_quota=_int_or(get, "apiMonthlyQuota", default.monthly_quota, 1, 1_000_000_000),
        integration_timeout_seconds=_int_or(
            get,
            "apiIntegrationTimeoutSeconds",
            default.integration_timeout_seconds,
            1,
            MAX_INTEGRATION_TIMEOUT_S,
        ),
        web_origin=origin,
        lmi_endpoint_name=endpoint,
        lmi_variant_name=variant,
        traces_retention_days=_int_or(get, "tracesRetentionDays", default.traces_retention_days, 1, 3650),
        latency_alarm_ms=_int_or(get, "apiLatencyAlarmMs", default.latency_alarm_ms, 100, 300_000),
        reranker=reranker,
        rerank_model=rerank_model,
    )


def _parse_reranker(get: Callable[[str], Any]) -> tuple[str, str]:
    """``reranker`` and ``rerankModel``; a pinned ``region`` where the model is not offered fails."""
    default = ApiConfig()
    reranker = str(get("reranker") or default.reranker).strip().lower()
    if reranker not in RERANKERS:
        raise ConfigError(f"reranker: one of {RERANKERS}, got {reranker!r}")
    model = str(get("rerankModel") or default.rerank_model).strip()
    if not RERANK_MODEL_ID.match(model):
        raise ConfigError(f"rerankModel: a Bedrock reranking model id (amazon.rerank-v1:0), got {model!r}")
    region = str(get("region") or "").strip()
    regions = RERANK_MODEL_REGIONS.get(model)
    if reranker == "bedrock" and region and regions and region not in regions:
        raise ConfigError(
            f"reranker=bedrock: {model} is offered in {', '.join(regions)} only, not in {region} "
            "(docs.aws.amazon.com/bedrock/latest/userguide/rerank-supported.html); choose another "
            "rerankModel or region, or keep reranker=local"
        )
    return reranker, model


def env_var_for(key: str) -> str:
    """``crawlMaxConcurrency`` -> ``LLM_TWIN_CDK_CRAWL_MAX_CONCURRENCY``."""
    return "LLM_TWIN_CDK_" + re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()


def config_from_values(get: Callable[[str], Any]) -> InfraConfig:
    """Build and validate the config from a lookup ``key -> value or None`` (context, then env)."""
    env_name = str(get("envName") or "dev")
    if not _ENV_NAME.match(env_name):
        raise ConfigError(
            "envName: lowercase letters, digits and '-', max 12 chars (SageMaker job names); "
            f"got {env_name!r}"
        )
    removal = str(get("removalPolicy") or "retain").lower()
    if removal not in ("retain", "destroy"):
        raise ConfigError(f"removalPolicy: 'retain' or 'destroy', got {removal!r}")
    retention = _as_int("logRetentionDays", get("logRetentionDays") or 30)
    if retention not in VALID_RETENTION_DAYS:
        raise ConfigError(f"logRetentionDays: one of {VALID_RETENTION_DAYS}, got {retention}")
    log_level = str(get("logLevel") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"logLevel: one of {LOG_LEVELS}, got {log_level!r}")
    concurrency = _as_int("crawlMaxConcurrency", get("crawlMaxConcurrency") or 4)
    if not 1 <= concurrency <= MAX_MAP_CONCURRENCY:
        raise ConfigError(f"crawlMaxConcurrency: 1..{MAX_MAP_CONCURRENCY}, got {concurrency}")
    reserved_raw = get("crawlReservedConcurrency")
    reserved = (
        None
        if reserved_raw in (None, "", "none", 0, "0")
        else _as_int("crawlReservedConcurrency", reserved_raw)
    )
    if reserved is not None and reserved < concurrency:
        # Fewer reserved slots than Map branches would throttle the crawler into link failures.
        raise ConfigError(
            f"crawlReservedConcurrency ({reserved}) must be >= crawlMaxConcurrency ({concurrency})"
        )
    return InfraConfig(
        env_name=env_name,
        account=get("account") or None,
        region=get("region") or None,
        removal_policy=removal,  # type: ignore[arg-type]
        log_retention_days=retention,
        log_level=log_level,
        crawl_max_concurrency=concurrency,
        crawl_reserved_concurrency=reserved,
        recrawl=_parse_schedule(get("recrawlSchedule")),
        vector=_parse_vector(get),
        features=_parse_features(get),
        alarm_email=_parse_email(get("alarmEmail")),
        api=_parse_api(get),
        training=parse_training_config(get),
        endpoint=parse_endpoint_config(get),
    )


def load_config(scope: Construct, environ: Mapping[str, str] | None = None) -> InfraConfig:
    """Read the config from ``scope``'s CDK context, falling back to ``LLM_TWIN_CDK_*`` env vars.

    ``account``/``region`` are deliberately not taken from ``CDK_DEFAULT_*`` (which the CLI sets when it
    finds credentials): without them the stacks are environment-agnostic, so a synth gives the same
    templates with or without credentials. Pin them with ``-c account=... -c region=...``.
    """
    env = os.environ if environ is None else environ

    def get(key: str) -> Any:
        value = scope.node.try_get_context(key)
        if value is None:
            value = env.get(env_var_for(key))
        return value

    return config_from_values(get)
