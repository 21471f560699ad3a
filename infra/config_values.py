"""Parsing of CDK context values shared by the capability configs (training, endpoint): one place for
what an integer, a boolean, a disabled value and an ML instance type look like. No CDK import."""

from __future__ import annotations

import re
from typing import Any

DISABLED = {"", "off", "false", "disabled", "none", "0"}
ML_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
SCHEDULE_EXPRESSION = re.compile(r"^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(.+\))$")


def config_error(message: str) -> Exception:
    from infra.config import ConfigError  # late: infra.config imports the capability configs

    return ConfigError(message)


def parse_int(key: str, raw: Any, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        value = default
    else:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise config_error(f"{key}: expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise config_error(f"{key}: must be {low}..{high}, got {value}")
    return value


def parse_bool(key: str, raw: Any, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"true", "1", "yes", "on", "enabled"}:
        return True
    if text in DISABLED:
        return False
    raise config_error(f"{key}: expected a boolean, got {raw!r}")
