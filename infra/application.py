"""Builds the CDK app from configuration. ``app.py`` and the infra tests both call :func:`create_app`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from infra.config import InfraConfig, load_config
from infra.nag import add_nag_checks
from infra.paths import CDK_JSON
from infra.stacks import (
    LlmTwinApiStack,
    LlmTwinCollectionStack,
    LlmTwinDataStack,
    LlmTwinFeaturesStack,
    LlmTwinServingStack,
    LlmTwinTrainingStack,
)

DATA_STACK_ID = "LlmTwinDataStack"
COLLECTION_STACK_ID = "LlmTwinCollectionStack"
FEATURES_STACK_ID = "LlmTwinFeaturesStack"
API_STACK_ID = "LlmTwinApiStack"
TRAINING_STACK_ID = "LlmTwinTrainingStack"
SERVING_STACK_ID = "LlmTwinServingStack"
STACK_IDS = (
    DATA_STACK_ID,
    COLLECTION_STACK_ID,
    FEATURES_STACK_ID,
    API_STACK_ID,
    TRAINING_STACK_ID,
    SERVING_STACK_ID,
)


@dataclass(frozen=True)
class LlmTwinStacks:
    config: InfraConfig
    data: LlmTwinDataStack
    collection: LlmTwinCollectionStack
    features: LlmTwinFeaturesStack
    api: LlmTwinApiStack
    training: LlmTwinTrainingStack
    serving: LlmTwinServingStack


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` block of cdk.json (feature flags): the CLI passes it, ``python app.py`` does not."""
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("context", {}))


def build_stacks(app: App, config: InfraConfig) -> LlmTwinStacks:
    env = Environment(account=config.account, region=config.region)  # None: environment-agnostic
    tags = {"project": "llm-twin", "environment": config.env_name}
    data = LlmTwinDataStack(
        app, DATA_STACK_ID, config=config, env=env, stack_name=f"{config.prefix}-data", tags=tags
    )
    collection = LlmTwinCollectionStack(
        app,
        COLLECTION_STACK_ID,
        config=config,
        data=data,
        env=env,
        stack_name=f"{config.prefix}-collection",
        tags=tags,
    )
    features = LlmTwinFeaturesStack(
        app,
        FEATURES_STACK_ID,
        config=config,
        data=data,
        env=env,
        stack_name=f"{config.prefix}-features",
        tags=tags,
    )
    api = LlmTwinApiStack(
        app,
        API_STACK_ID,
        config=config,
        data=data,
        collection=collection,
        features=features,
        env=env,
        stack_name=f"{config.prefix}-api",
        tags=tags,
    )
    training = LlmTwinTrainingStack(
        app,
        TRAINING_STACK_ID,
        config=config,
        data=data,
        features=features,
        env=env,
        stack_name=f"{config.prefix}-training",
        tags=tags,
    )
    serving = LlmTwinServingStack(
        app,
        SERVING_STACK_ID,
        config=config,
        data=data,
        features=features,
        env=env,
        stack_name=f"{config.prefix}-serving",
        tags=tags,
    )
    return LlmTwinStacks(
        config=config,
        data=data,
        collection=collection,
        features=features,
        api=api,
        training=training,
        serving=serving,
    )


def create_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    nag_checks: bool = True,
    environ: Mapping[str, str] | None = None,
) -> tuple[App, LlmTwinStacks]:
    """cdk.json context, then ``context``, are defaults: context given on the CDK CLI overrides both.

    ``environ`` replaces ``os.environ`` for the ``LLM_TWIN_CDK_*`` fallbacks (tests).
    """
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    stacks = build_stacks(app, load_config(app, environ))
    if nag_checks:
        add_nag_checks(app)
    return app, stacks
