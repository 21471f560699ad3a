"""API context keys: defaults, parsing and errors (no synth)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import ApiConfig, ConfigError, config_from_values

pytestmark = pytest.mark.infra


def config(**values: Any) -> Any:
    return config_from_values(values.get)


def test_defaults() -> None:
    cfg = config()
    assert cfg.api == ApiConfig()
    assert (cfg.api.rate_limit, cfg.api.burst_limit, cfg.api.monthly_quota) == (5, 10, 10_000)
    assert (cfg.api.integration_timeout_seconds, cfg.api.web_origin) == (29, "")
    assert (cfg.lmi_endpoint_name, cfg.api.lmi_variant_name) == ("llm-twin-dev-lmi", "AllTraffic")
    assert (cfg.api.traces_retention_days, cfg.api.latency_alarm_ms) == (30, 10_000)
    assert config(envName="prod").lmi_endpoint_name == "llm-twin-prod-lmi"


def test_values_parse() -> None:
    cfg = config(
        apiRateLimit="20",
        apiBurstLimit="40",
        apiMonthlyQuota="100000",
        apiIntegrationTimeoutSeconds="90",
        webOrigin="http://localhost:5173/",
        lmiEndpointName="twin-llama",
        lmiVariantName="Blue",
        tracesRetentionDays="7",
        apiLatencyAlarmMs="15000",
    )
    assert cfg.api == ApiConfig(
        rate_limit=20,
        burst_limit=40,
        monthly_quota=100_000,
        integration_timeout_seconds=90,
        web_origin="http://localhost:5173",
        lmi_endpoint_name="twin-llama",
        lmi_variant_name="Blue",
        traces_retention_days=7,
        latency_alarm_ms=15_000,
    )
    assert cfg.lmi_endpoint_name == "twin-llama"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"apiRateLimit": 0}, "apiRateLimit"),
        ({"apiRateLimit": 20}, "apiBurstLimit"),  # burst 10 < rate 20
        ({"apiMonthlyQuota": "many"}, "apiMonthlyQuota"),
        ({"apiIntegrationTimeoutSeconds": 301}, "apiIntegrationTimeoutSeconds"),
        ({"webOrigin": "*"}, "webOrigin"),
        ({"webOrigin": "https://twin.example.com/app"}, "webOrigin"),
        ({"lmiEndpointName": "Twin_Llama"}, "lmiEndpointName"),  # ARNs lowercase endpoint names
        ({"lmiVariantName": "a b"}, "lmiVariantName"),
        ({"tracesRetentionDays": 0}, "tracesRetentionDays"),
        ({"apiLatencyAlarmMs": 10}, "apiLatencyAlarmMs"),
    ],
)
def test_invalid_values_name_the_key(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**values)
