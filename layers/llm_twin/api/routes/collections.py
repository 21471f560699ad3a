"""Start a collection (``POST /collections`` -> 202) and watch it (``GET /collections/{run_id}``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from llm_twin.api.models import (
    RUN_ID_PATTERN,
    CollectionAccepted,
    CollectionStart,
    RunPage,
    RunPending,
    RunReport,
)
from llm_twin.api.pagination import (
    CURSOR_PATTERN,
    DEFAULT_PAGE_LINKS,
    MAX_CURSOR_CHARS,
    MAX_PAGE_LINKS,
    decode_cursor,
    encode_cursor,
)
from llm_twin.api.routes import SECURED, documented
from llm_twin.api.services import get_services
from llm_twin.api.validation import check_links
from llm_twin.collection.events import CollectionRequest
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.repository import new_run_id

RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="As returned by POST /collections.")]
PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_LINKS, description=f"Links per page, 1..{MAX_PAGE_LINKS}.")
]
PageCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_CURSOR_CHARS,
        pattern=CURSOR_PATTERN,
        description="The `next_cursor` of the previous page, as returned (opaque); none for the first page.",
    ),
]
TAGS = ["collections"]


def _status_url(router: Router, run_id: str) -> str:
    """Where to poll, as the caller addressed the API (API Gateway's stage or base path included)."""
    event: Any = router.current_event
    context_path = str(event.request_context.path or "") if event.get("requestContext") else ""
    base = context_path if context_path.rstrip("/").endswith("/collections") else "/collections"
    return f"{base.rstrip('/')}/{run_id}"


def _report_responses() -> dict[int, dict[str, Any]]:
    responses = documented(200, RunReport, "The run's report (or starting / failed)", 400, 403, 404, 422)
    responses[400]["description"] = "Invalid limit or cursor (a cursor must come from this run's pages)"
    return responses


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
        summary="A run's per-link report, a page of links at a time",
        description=(
            "`starting` until the workflow records the run, then `running` and a final status. Status and "
            "`counts` are the whole run's; `links` are one page of them, in index order: follow "
            "`next_cursor` until it is null for every link."
        ),
        tags=TAGS,
        security=SECURED,
        responses=_report_responses(),
    )
    def get_collection(
        run_id: RunId, limit: PageLimit = DEFAULT_PAGE_LINKS, cursor: PageCursor = None
    ) -> RunPage | RunPending:
        services = get_services()
        after = decode_cursor(run_id, cursor) if cursor is not None else None
        page = services.collections().summary_page(run_id, limit, after)
        if page is not None:
            summary, next_after = page
            next_cursor = encode_cursor(run_id, next_after) if next_after is not None else None
            return RunPage(**dict(summary), next_cursor=next_cursor)
        state = services.starter.pending_state(run_id)
        if state is None:
            raise NotFoundError(f"unknown collection run {run_id}")
        return RunPending(run_id=run_id, status=state)

    return router
