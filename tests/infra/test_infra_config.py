"""infra.config: context / env / defaults, validation of every key."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import ConfigError, InfraConfig, RecrawlScheduleConfig, config_from_values, env_var_for

pytestmark = pytest.mark.infra


def cfg(**values: Any) -> InfraConfig:
    return config_from_values(values.get)


def test_defaults() -> None:
    config = cfg()
    assert config == InfraConfig()
    assert config.prefix == "llm-twin-dev"
    assert config.retain_data
    assert config.crawl_reserved_concurrency is None
    assert config.recrawl == RecrawlScheduleConfig(
        enabled=True,
        expression="cron(0 3 ? * MON *)",
        time_zone="UTC",
        retry_attempts=3,
        max_event_age_minutes=60,
    )


def test_cli_strings_are_parsed() -> None:
    config = cfg(
        envName="prod",
        removalPolicy="DESTROY",
        logRetentionDays="90",
        logLevel="debug",
        crawlMaxConcurrency="8",
        crawlReservedConcurrency="10",
    )
    assert (config.env_name, config.removal_policy, config.log_retention_days) == ("prod", "destroy", 90)
    assert (config.log_level, config.crawl_max_concurrency, config.crawl_reserved_concurrency) == (
        "DEBUG",
        8,
        10,
    )
    assert not config.retain_data


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("disabled", RecrawlScheduleConfig(enabled=False)),
        ("off", RecrawlScheduleConfig(enabled=False)),
        (False, RecrawlScheduleConfig(enabled=False)),
        ("rate(1 day)", RecrawlScheduleConfig(expression="rate(1 day)")),
        (
            '{"expression": "cron(0 2 * * ? *)", "timeZone": "Europe/Berlin", "retryAttempts": 5}',
            RecrawlScheduleConfig(
                expression="cron(0 2 * * ? *)", time_zone="Europe/Berlin", retry_attempts=5
            ),
        ),
        (
            {"enabled": False, "maxEventAgeMinutes": 120},
            RecrawlScheduleConfig(enabled=False, max_event_age_minutes=120),
        ),
    ],
)
def test_recrawl_schedule_forms(value: Any, expected: RecrawlScheduleConfig) -> None:
    assert cfg(recrawlSchedule=value).recrawl == expected


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"envName": "Prod_1"}, "envName"),
        ({"envName": "thirteen-char"}, "max 12 chars"),  # SageMaker job names stay within 63 chars
        ({"removalPolicy": "snapshot"}, "removalPolicy"),
        ({"logRetentionDays": "31"}, "logRetentionDays"),
        ({"logLevel": "chatty"}, "logLevel"),
        ({"crawlMaxConcurrency": "41"}, "crawlMaxConcurrency"),
        ({"crawlMaxConcurrency": "many"}, "crawlMaxConcurrency"),
        ({"crawlMaxConcurrency": "8", "crawlReservedConcurrency": "4"}, "crawlReservedConcurrency"),
        ({"recrawlSchedule": "every monday"}, "recrawlSchedule.expression"),
        (
            {"recrawlSchedule": {"expression": "rate(1 day)", "timeZone": "Mars Time"}},
            "recrawlSchedule.timeZone",
        ),
        ({"recrawlSchedule": {"retryAttempts": 200}}, "recrawlSchedule.retryAttempts"),
        ({"recrawlSchedule": {"cron": "x"}}, "recrawlSchedule"),
        ({"recrawlSchedule": "{not json"}, "recrawlSchedule"),
    ],
)
def test_invalid_values_name_their_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_values(values.get)


def test_env_var_names() -> None:
    assert env_var_for("crawlMaxConcurrency") == "LLM_TWIN_CDK_CRAWL_MAX_CONCURRENCY"
    assert env_var_for("envName") == "LLM_TWIN_CDK_ENV_NAME"


def test_context_beats_env_beats_default() -> None:
    from aws_cdk import App

    from infra.config import load_config

    environ = {
        "LLM_TWIN_CDK_ENV_NAME": "staging",
        "LLM_TWIN_CDK_LOG_LEVEL": "WARNING",
        "LLM_TWIN_CDK_REGION": "eu-central-1",
        "CDK_DEFAULT_ACCOUNT": "123456789012",  # set by the CLI when it finds credentials: ignored
    }
    config = load_config(App(context={"envName": "prod"}), environ)
    assert config.env_name == "prod"  # context
    assert config.log_level == "WARNING"  # env
    assert (config.account, config.region) == (None, "eu-central-1")  # environment-agnostic unless pinned
    assert config.crawl_max_concurrency == 4  # default
