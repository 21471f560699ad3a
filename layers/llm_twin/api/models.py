"""Request and response bodies of the HTTP API (validated by the resolver, published in OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from llm_twin import ids
from llm_twin.collection.events import MAX_LINKS_PER_RUN, RunLink, RunSummary

Link = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
FullName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
MAX_LINKS_PER_AUTHOR = 100
RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
AUTHOR_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,199}$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 422, not silently ignored


def _sluggable(name: str | None) -> str | None:
    if name is not None:
        ids.author_id(name)  # ValueError (-> 422) when the name has no letters or digits
    return name


class ErrorBody(BaseModel):
    message: str
    details: list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class AuthorCreate(_Request):
    full_name: FullName
    links: list[Link] = Field(default_factory=list, max_length=MAX_LINKS_PER_AUTHOR)

    _name = field_validator("full_name")(_sluggable)


class AuthorUpdate(_Request):
    links: list[Link] | None = Field(None, max_length=MAX_LINKS_PER_AUTHOR, description="Replaces the links.")
    schedule_enabled: bool | None = Field(None, description="Include the author in scheduled re-crawls.")


class AuthorOut(BaseModel):
    author_id: str
    full_name: str
    links: list[str]
    schedule_enabled: bool
    created_at: datetime
    updated_at: datetime


class AuthorList(BaseModel):
    authors: list[AuthorOut]


class CollectionStart(_Request):
    """Either ``author`` + ``links`` (crawl them for that author; they are added to the profile) or
    ``all_authors: true`` (re-crawl every scheduled author's saved links)."""

    author: FullName | None = None
    links: list[Link] = Field(default_factory=list, max_length=MAX_LINKS_PER_RUN)
    all_authors: bool = False

    _name = field_validator("author")(_sluggable)

    @model_validator(mode="after")
    def _one_form(self) -> CollectionStart:
        if self.all_authors and (self.author or self.links):
            raise ValueError("give either all_authors or author and links, not both")
        if not self.all_authors and not (self.author and self.links):
            raise ValueError("a collection needs an author and at least one link (or all_authors: true)")
        return self


class CollectionAccepted(BaseModel):
    run_id: str
    status: Literal["starting"] = "starting"
    status_url: str


class RunPending(BaseModel):
    """A run whose workflow has not recorded it yet (``starting``) or ended before it could (``failed``)."""

    run_id: str
    status: Literal["starting", "failed"]


class RunPage(RunSummary):
    """A run's status and counts (for the whole run) with one page of its links, in index order."""

    links: list[RunLink] = Field(
        description="This page's links: at most `limit`, fewer when the store's 1 MB read cap ends it."
    )
    counts: dict[str, int] = Field(
        description="For the whole run: links per state (states no link is in are left out), "
        "documents_new, documents_updated, documents_unchanged."
    )
    next_cursor: str | None = Field(
        None,
        description="Pass as `cursor` for the next page of links; null on the last page.",
    )


RunReport = RunPage | RunPending
