"""Start the training workflow (``POST /training`` -> 202) and watch it (``GET /training/{execution_id}``).

Locally there is no training workflow: ``POST /training`` is a 409 that says to run ``llm-twin train
all`` (see :mod:`llm_twin.api.training_starter`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field

from llm_twin.api.models import RUN_ID_PATTERN, ErrorBody
from llm_twin.api.routes import SECURED, documented
from llm_twin.api.services import get_services
from llm_twin.api.training_starter import TrainingExecution, TrainingUnavailableError, training_starter
from llm_twin.warehouse.errors import NotFoundError

ExecutionId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="As returned by POST /training.")]
TAGS = ["training"]
NOT_AVAILABLE = {
    409: {
        "description": "No training workflow here (not configured or not deployed; locally: "
        "`llm-twin train all`)",
        "content": {"application/json": {"model": ErrorBody}},
    }
}


class TrainingStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500, description="Why (recorded in the execution's input).")


class TrainingAccepted(BaseModel):
    execution_id: str
    status: Literal["RUNNING"] = "RUNNING"
    status_url: str


def _status_url(router: Router, execution_id: str) -> str:
    """Where to poll, as the caller addressed the API (API Gateway's stage or base path included)."""
    event: Any = router.current_event
    context_path = str(event.request_context.path or "") if event.get("requestContext") else ""
    base = context_path if context_path.rstrip("/").endswith("/training") else "/training"
    return f"{base.rstrip('/')}/{execution_id}"


def training_router() -> Router:
    router = Router()

    @router.post(
        "/training",
        summary="Start the training workflow",
        description="Datasets -> SFT -> DPO -> evaluate -> model registry, as a Step Functions execution. "
        "409 where no training workflow is deployed (locally: run `llm-twin train all`).",
        tags=TAGS,
        security=SECURED,
        responses={
            **documented(202, TrainingAccepted, "Started: poll status_url", 400, 403, 413, 422),
            **NOT_AVAILABLE,
        },
    )
    def start_training(
        body: Annotated[TrainingStart | None, Body()] = None,
    ) -> Response[TrainingAccepted]:
        starter = training_starter(get_services().settings)
        try:
            execution = starter.start(reason=body.reason if body else None, source="api")
        except TrainingUnavailableError as exc:
            raise ServiceError(int(HTTPStatus.CONFLICT), str(exc)) from None
        url = _status_url(router, execution.execution_id)
        accepted = TrainingAccepted(execution_id=execution.execution_id, status_url=url)
        return Response(
            status_code=int(HTTPStatus.ACCEPTED),
            content_type=content_types.APPLICATION_JSON,
            body=accepted,
            headers={"Location": url},
        )

    @router.get(
        "/training/<execution_id>",
        summary="A training execution's status",
        description="RUNNING, then SUCCEEDED, FAILED (error and cause: the failed step, or the evaluation "
        "gate's reason), TIMED_OUT or ABORTED.",
        tags=TAGS,
        security=SECURED,
        responses=documented(200, TrainingExecution, "The execution's status", 403, 404, 422),
    )
    def get_training(execution_id: ExecutionId) -> TrainingExecution:
        execution = training_starter(get_services().settings).describe(execution_id)
        if execution is None:
            raise NotFoundError(f"unknown training execution {execution_id}")
        return execution

    return router
