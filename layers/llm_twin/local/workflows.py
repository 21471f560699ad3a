"""Run a workflow locally: the deployed ASL file, its Lambda states bound to the real handlers, its S3
reads and writes (Distributed Map ItemReader/ResultWriter) on the S3 that ``settings`` points at."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from llm_twin.local.clients import aws_client
from llm_twin.settings import Settings
from llm_twin.workflows.catalog import WorkflowSpec
from llm_twin.workflows.runner import Execution, LocalStateMachine, load_definition

LOCAL_ACCOUNT = "000000000000"


def local_function_arn(folder: str, settings: Settings) -> str:
    return f"arn:aws:lambda:{settings.region}:{LOCAL_ACCOUNT}:function:llm-twin-{folder.replace('_', '-')}"


def handler_of(folder: str) -> Callable[..., Any]:
    """The ``handler`` of ``lambdas/<folder>/handler.py`` — the code Lambda runs."""
    return importlib.import_module(f"lambdas.{folder}.handler").handler


def run_workflow(
    spec: WorkflowSpec,
    payload: dict[str, Any],
    settings: Settings,
    *,
    name: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Execution:
    """Execute ``spec``'s ASL with its Lambda states bound to the handlers; ``sleep`` paces retries."""
    arns = {key: local_function_arn(folder, settings) for key, folder in spec.functions.items()}
    definition = load_definition(spec.asl_path, arns)
    functions = {arns[key]: handler_of(folder) for key, folder in spec.functions.items()}
    machine = LocalStateMachine(definition, functions, sleep=sleep, s3_client=aws_client("s3", settings))
    return machine.execute(payload, name=name)
