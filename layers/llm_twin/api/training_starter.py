"""The ``TrainingStarter`` port: start the training workflow on demand and say how an execution went.

AWS: Step Functions ``StartExecution`` of ``LLM_TWIN_TRAINING_STATE_MACHINE_ARN`` (execution name = a
UUID, the 36 characters the workflow's job names leave room for) and ``DescribeExecution``. Locally there
is no training workflow (its steps are SageMaker jobs): :class:`NoTrainingWorkflow` refuses to start
(``POST /training`` answers 409) and points at ``llm-twin train all``, which runs the same pipeline in
the foreground. Used by ``POST /training``, ``GET /training/{execution_id}`` and ``llm-twin train workflow``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from llm_twin.errors import LlmTwinError
from llm_twin.settings import Settings

ExecutionStatus = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
LOCAL_HINT = "training runs with `llm-twin train all` locally"


class TrainingUnavailableError(LlmTwinError):
    """No training workflow to start here (not configured, or not deployed)."""


class TrainingExecution(BaseModel):
    """One execution of the training workflow, as Step Functions describes it."""

    execution_id: str = Field(description="The execution name (job names end with it).")
    status: ExecutionStatus
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    error: str | None = Field(None, description="The failed state's error name (FAILED, TIMED_OUT).")
    cause: str | None = Field(None, description="Why it failed, e.g. the evaluation gate's reason.")

    @property
    def ended(self) -> bool:
        return self.status in ENDED


class TrainingStarter(Protocol):
    def start(self, reason: str | None = None, source: str = "api") -> TrainingExecution:
        """Start one execution; return at once (status RUNNING)."""
        ...

    def describe(self, execution_id: str) -> TrainingExecution | None:
        """The execution's state, or None when this workflow has no such execution."""
        ...


def new_execution_id() -> str:
    return str(uuid.uuid4())


class StepFunctionsTrainingStarter:
    def __init__(self, settings: Settings) -> None:
        if not settings.training_state_machine_arn:
            raise TrainingUnavailableError(f"LLM_TWIN_TRAINING_STATE_MACHINE_ARN is not set: {LOCAL_HINT}")
        self._settings = settings
        self.arn = settings.training_state_machine_arn

    def _client(self) -> Any:
        from llm_twin.local.clients import aws_client

        return aws_client("stepfunctions", self._settings)

    def execution_arn(self, execution_id: str) -> str:
        """``arn:aws:states:<region>:<account>:stateMachine:<name>`` -> ``...:execution:<name>:<id>``."""
        return f"{self.arn.replace(':stateMachine:', ':execution:', 1)}:{execution_id}"

    def start(self, reason: str | None = None, source: str = "api") -> TrainingExecution:
        client = self._client()
        execution_id = new_execution_id()
        payload = {"source": source, **({"reason": reason} if reason else {})}  # the workflow ignores it
        try:
            started = client.start_execution(
                stateMachineArn=self.arn, name=execution_id, input=json.dumps(payload)
            )
        except (client.exceptions.StateMachineDoesNotExist, client.exceptions.StateMachineDeleting):
            raise TrainingUnavailableError(
                f"the training workflow {self.arn} is not deployed (deploy the training stack)"
            ) from None
        return TrainingExecution(execution_id=execution_id, status="RUNNING", started_at=started["startDate"])

    def describe(self, execution_id: str) -> TrainingExecution | None:
        client = self._client()
        try:
            found = client.describe_execution(executionArn=self.execution_arn(execution_id))
        except client.exceptions.ExecutionDoesNotExist:
            return None
        return TrainingExecution(
            execution_id=execution_id,
            status=found["status"],
            started_at=found.get("startDate"),
            stopped_at=found.get("stopDate"),
            error=found.get("error"),
            cause=found.get("cause"),
        )


class NoTrainingWorkflow:
    """Locally: nothing to start (the workflow's steps are SageMaker jobs) and no executions."""

    def start(self, reason: str | None = None, source: str = "api") -> TrainingExecution:
        raise TrainingUnavailableError(f"no training workflow here: {LOCAL_HINT}")

    def describe(self, execution_id: str) -> TrainingExecution | None:
        return None


def training_starter(settings: Settings) -> TrainingStarter:
    if settings.training_state_machine_arn:
        return StepFunctionsTrainingStarter(settings)
    return NoTrainingWorkflow()
