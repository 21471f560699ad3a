"""Authors and their links: ``/authors`` and ``/authors/{author_id}``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from llm_twin.api.models import AUTHOR_ID_PATTERN, AuthorCreate, AuthorList, AuthorOut, AuthorUpdate
from llm_twin.api.routes import SECURED, documented
from llm_twin.api.services import get_services
from llm_twin.api.validation import check_links
from llm_twin.ids import author_id as make_author_id
from llm_twin.warehouse.errors import NotFoundError
from llm_twin.warehouse.records import Author

AuthorId = Annotated[str, Path(pattern=AUTHOR_ID_PATTERN, max_length=200, description="Slug of the name.")]
TAGS = ["authors"]


def _out(author: Author) -> AuthorOut:
    return AuthorOut.model_validate(author.model_dump())


def _json(status: int, body: AuthorOut) -> Response[AuthorOut]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def authors_router() -> Router:
    router = Router()

    @router.get(
        "/authors",
        summary="List authors",
        tags=TAGS,
        security=SECURED,
        responses=documented(200, AuthorList, "Every author, sorted by id", 403),
    )
    def list_authors() -> AuthorList:
        return AuthorList(authors=[_out(a) for a in get_services().warehouse().list_authors()])

    @router.post(
        "/authors",
        summary="Create an author (or add links to an existing one)",
        description="201 when created; 200 when the author existed (the links are added to theirs).",
        tags=TAGS,
        security=SECURED,
        responses={
            **documented(201, AuthorOut, "Created", 400, 403, 413, 422),
            **documented(200, AuthorOut, "The author existed: links added"),
        },
    )
    def create_author(body: Annotated[AuthorCreate, Body()]) -> Response[AuthorOut]:
        services = get_services()
        check_links(services.link_policy(), body.links)
        warehouse = services.warehouse()
        existed = warehouse.get_author(make_author_id(body.full_name)) is not None
        author = warehouse.upsert_author(body.full_name, body.links)
        return _json(int(HTTPStatus.OK if existed else HTTPStatus.CREATED), _out(author))

    @router.get(
        "/authors/<author_id>",
        summary="One author",
        tags=TAGS,
        security=SECURED,
        responses=documented(200, AuthorOut, "The author", 403, 404, 422),
    )
    def get_author(author_id: AuthorId) -> AuthorOut:
        author = get_services().warehouse().get_author(author_id)
        if author is None:
            raise NotFoundError(f"unknown author {author_id}")
        return _out(author)

    @router.put(
        "/authors/<author_id>",
        summary="Replace links / toggle scheduled re-crawls",
        tags=TAGS,
        security=SECURED,
        responses=documented(200, AuthorOut, "Updated", 400, 403, 404, 413, 422),
    )
    def update_author(author_id: AuthorId, body: Annotated[AuthorUpdate, Body()]) -> AuthorOut:
        services = get_services()
        warehouse = services.warehouse()
        if body.links is not None:
            check_links(services.link_policy(), body.links)
            warehouse.set_author_links(author_id, body.links)
        if body.schedule_enabled is not None:
            warehouse.set_author_schedule(author_id, body.schedule_enabled)
        author = warehouse.get_author(author_id)
        if author is None:
            raise NotFoundError(f"unknown author {author_id}")
        return _out(author)

    @router.delete(
        "/authors/<author_id>",
        summary="Delete an author and their documents (their vectors follow via the stream)",
        tags=TAGS,
        security=SECURED,
        responses=documented(204, None, "Deleted", 403, 404, 422),
    )
    def delete_author(author_id: AuthorId) -> Response[None]:
        if get_services().warehouse().delete_author(author_id) == 0:
            raise NotFoundError(f"unknown author {author_id}")
        return Response(status_code=int(HTTPStatus.NO_CONTENT), body="")

    return router
