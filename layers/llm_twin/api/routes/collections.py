"""Start a collection (``POST /collections`` -> 202) and watch it (``GET /collections/{run_id}``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from llm_twin.api.models import RUN_ID_PATTERN, CollectionAccepted, CollectionStart, RunPending, RunReport
from llm_twin.api.routes import SECURED, documented
from llm_twin.api.services import get_services
from llm_twin.api.validation import check_links
from llm_twin.collection.events import CollectionRequest, RunSummary
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.repository import new_run_id

RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="As returned by POST /collections.")]
TAGS = ["collections"]


def _status_url(router: Router, run_id: str) -> str:
    """Where to poll, as the caller addressed the API (API Gateway's stage or base path included)."""
    event: Any = router.current_event
    context_path = str(event.request_context.path or "") if event.get("requestContext") else ""
    base = context_path if context_path.rstrip("/").endswith("/collections") else "/collections"
    return f"{base.rstrip('/')}/{run_id}"


def collections_router() -> Router:
    router = Router()

    @router.post(
        "/collections",
        summary="Start a collection run",
        tags=TAGS,
        security=SECURED,
        responses=documented(202, CollectionAccepted, "Started: poll status_url", 400, 403, 413, 422),
    )
    def start_collection(body: Annotated[CollectionStart, Body()]) -> Response[CollectionAccepted]:
        services = get_services()
        check_links(services.link_policy(), body.links)
        run_id = new_run_id()
        request = CollectionRequest(
            author=body.author, links=body.links, all_authors=body.all_authors, run_id=run_id
        )
        services.starter.start(request)
        accepted = CollectionAccepted(run_id=run_id, status_url=_status_url(router, run_id))
        return Response(
            status_code=int(HTTPStatus.ACCEPTED),
            content_type=content_types.APPLICATION_JSON,
            body=accepted,
            headers={"Location": accepted.status_url},
        )

    @router.get(
        "/collections/<run_id>",
        summary="A run's per-link report",
        description="`starting` until the workflow records the run, then `running` and a final status.",
        tags=TAGS,
        security=SECURED,
        responses=documented(200, RunReport, "The run's report (or starting / failed)", 403, 404, 422),
    )
    def get_collection(run_id: RunId) -> RunSummary | RunPending:
        services = get_services()
        summary = services.collections().summary(run_id)
        if summary is not None:
            return summary
        state = services.starter.pending_state(run_id)
        if state is None:
            raise NotFoundError(f"unknown collection run {run_id}")
        return RunPending(run_id=run_id, status=state)

    return router
