"""``POST /rag`` (answer with sources) and ``POST /generate`` (a draft in the author's voice)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from llm_twin.api.routes import SECURED, documented
from llm_twin.api.services import get_services
from llm_twin.api.validation import check_links
from llm_twin.rag.models import DraftRequest, RagAnswer, RagRequest

TAGS = ["rag"]
ERRORS = (400, 403, 413, 422, 503)


def rag_router() -> Router:
    router = Router()

    @router.post(
        "/rag",
        summary="Answer a question from the author's writing",
        tags=TAGS,
        security=SECURED,
        responses=documented(200, RagAnswer, "The answer and its sources", *ERRORS),
    )
    def rag(body: Annotated[RagRequest, Body()]) -> RagAnswer:
        return get_services().rag().answer(body)

    @router.post(
        "/generate",
        summary="Draft a post or article in the author's voice",
        tags=TAGS,
        security=SECURED,
        responses=documented(200, RagAnswer, "The draft and its sources", *ERRORS),
    )
    def generate(body: Annotated[DraftRequest, Body()]) -> RagAnswer:
        services = get_services()
        if body.link:
            check_links(services.link_policy(), [body.link])
        return services.rag().draft(body)

    return router
