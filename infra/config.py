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

# Lambda-supported CloudWatch Logs retention periods (days).
VALID_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                        2557, 2922, 3288, 3653)  # fmt: skip
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_MAP_CONCURRENCY = 40  # llm_twin.settings.Settings.crawl_max_concurrency upper bound

_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_SCHEDULE = re.compile(r"^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(.+\))$")
_DISABLED = {"", "off", "false", "disabled", "none", "0"}

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
    if text in _DISABLED:
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
        if text.lower() in _DISABLED:
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
    if not _SCHEDULE.match(cfg.expression):
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


def env_var_for(key: str) -> str:
    """``crawlMaxConcurrency`` -> ``LLM_TWIN_CDK_CRAWL_MAX_CONCURRENCY``."""
    return "LLM_TWIN_CDK_" + re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()


def config_from_values(get: Callable[[str], Any]) -> InfraConfig:
    """Build and validate the config from a lookup ``key -> value or None`` (context, then env)."""
    env_name = str(get("envName") or "dev")
    if not _ENV_NAME.match(env_name):
        raise ConfigError(f"envName: lowercase letters, digits and '-', max 16 chars; got {env_name!r}")
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
