"""Every route through the real Lambda handler with synthetic API Gateway REST proxy events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_twin.api.app import openapi_json
from llm_twin.api.openapi import generate
from llm_twin.api.services import Services, UnavailableRag, use_services
from llm_twin.local.aws import LocalAws
from tests.api.conftest import WEB_ORIGIN, FakeRag, invoke, rest_event

AUTHOR = "/authors/{author_id}"
RUN = "/collections/{run_id}"
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
OPENAPI_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def author_event(method: str, author_id: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    return rest_event(
        method, f"/authors/{author_id}", body, resource=AUTHOR, path_parameters={"author_id": author_id}, **kw
    )


def test_health(api_env: None) -> None:
    reply = invoke(rest_event("GET", "/health"))
    assert reply.status == 200 and reply.body["status"] == "ok"
    # the package's own version (the Lambda layer has no installed metadata): the same as pyproject's
    from importlib.metadata import version

    import llm_twin

    assert reply.body["version"] == llm_twin.__version__ == version("llm-twin") != "0.0.0"


def test_authors_lifecycle(services: Services) -> None:
    created = invoke(
        rest_event("POST", "/authors", {"full_name": "Ada Lovelace", "links": ["https://a.example/x/"]})
    )
    assert created.status == 201
    assert created.body["author_id"] == "ada-lovelace" and created.body["links"] == ["https://a.example/x"]

    again = invoke(
        rest_event("POST", "/authors", {"full_name": "Ada Lovelace", "links": ["https://b.example"]})
    )
    assert again.status == 200 and again.body["links"] == ["https://a.example/x", "https://b.example/"]

    listed = invoke(rest_event("GET", "/authors"))
    assert listed.status == 200 and [a["author_id"] for a in listed.body["authors"]] == ["ada-lovelace"]

    fetched = invoke(author_event("GET", "ada-lovelace"))
    assert fetched.status == 200 and fetched.body["full_name"] == "Ada Lovelace"

    updated = invoke(
        author_event("PUT", "ada-lovelace", {"links": ["https://c.example"], "schedule_enabled": False})
    )
    assert updated.status == 200
    assert updated.body["links"] == ["https://c.example/"] and updated.body["schedule_enabled"] is False

    deleted = invoke(author_event("DELETE", "ada-lovelace"))
    assert deleted.status == 204 and deleted.body is None
    assert invoke(author_event("GET", "ada-lovelace")).status == 404
    assert services.warehouse().get_author("ada-lovelace") is None


@pytest.mark.parametrize(
    ("event", "status", "fragment"),
    [
        (rest_event("POST", "/authors", raw_body="{not json"), 400, "not valid JSON"),
        (rest_event("POST", "/authors", {"full_name": 42}), 422, "string"),
        (rest_event("POST", "/authors", {"links": []}), 422, "full_name"),
        (rest_event("POST", "/authors", {"full_name": "A", "extra": 1}), 422, "extra"),
        (rest_event("POST", "/authors", {"full_name": "!!!"}), 422, "no letters"),
        (rest_event("POST", "/authors", {"full_name": "A", "links": "https://x.example"}), 422, "list"),
        (
            rest_event("POST", "/authors", {"full_name": "A", "links": ["http://10.0.0.1/"]}),
            422,
            "not a public",
        ),
        (rest_event("POST", "/authors", {"full_name": "A", "links": ["file:///etc/passwd"]}), 422, "scheme"),
        (rest_event("POST", "/authors", {"full_name": "A", "links": ["no scheme"]}), 422, "links[0]"),
        (rest_event("POST", "/authors", raw_body="[1, 2]"), 422, "invalid"),
        (rest_event("POST", "/authors"), 422, "invalid"),
        (author_event("GET", "Not_A_Slug"), 422, "pattern"),
        (author_event("GET", "nobody"), 404, "unknown author"),
        (author_event("PUT", "nobody", {"schedule_enabled": True}), 404, "unknown author"),
        (author_event("PUT", "nobody", {"schedule_enabled": "maybe"}), 422, "boolean"),
        (author_event("DELETE", "nobody"), 404, "unknown author"),
        (rest_event("POST", "/collections", {"author": "A"}), 422, "at least one link"),
        (rest_event("POST", "/collections", {"all_authors": True, "author": "A"}), 422, "not both"),
        (
            rest_event("POST", "/collections", {"author": "A", "links": ["http://127.0.0.2/"]}),
            422,
            "not a public",
        ),
        (
            rest_event("GET", "/collections/nope", resource=RUN, path_parameters={"run_id": "nope"}),
            404,
            "unknown",
        ),
        (
            rest_event("GET", "/collections/a.b", resource=RUN, path_parameters={"run_id": "a.b"}),
            422,
            "pattern",
        ),
        (rest_event("POST", "/rag", {"query": ""}), 422, "query"),
        (rest_event("POST", "/rag", {"query": "q", "k": 100}), 422, "k"),
        (rest_event("POST", "/generate", {"prompt": "p", "kind": "poem"}), 422, "kind"),
        (
            rest_event("POST", "/generate", {"prompt": "p", "link": "http://169.254.169.254/"}),
            422,
            "not a public",
        ),
        (rest_event("GET", "/nowhere"), 404, "no such route"),
        (rest_event("PATCH", "/authors"), 404, "no such route"),
    ],
)
def test_bad_input_is_a_4xx_with_a_json_message(
    services: Services, event: dict[str, Any], status: int, fragment: str
) -> None:
    reply = invoke(event)
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/json"
    assert fragment in str(reply.body), reply.body
    assert isinstance(reply.body["message"], str)


def test_oversized_body_is_413_before_parsing(services: Services) -> None:
    body = {"full_name": "Big", "links": ["https://x.example/" + "a" * 70_000]}
    reply = invoke(rest_event("POST", "/authors", body, headers={"Origin": WEB_ORIGIN}))
    assert reply.status == 413 and "65536" in reply.body["message"]
    assert reply.headers["access-control-allow-origin"] == WEB_ORIGIN
    assert services.warehouse().list_authors() == []


def test_cors_only_for_the_web_origin(api_env: None) -> None:
    allowed = invoke(rest_event("GET", "/health", headers={"Origin": WEB_ORIGIN}))
    assert allowed.headers["access-control-allow-origin"] == WEB_ORIGIN
    other = invoke(rest_event("GET", "/health", headers={"Origin": "https://evil.example"}))
    assert "access-control-allow-origin" not in other.headers
    preflight = invoke(
        rest_event(
            "OPTIONS", "/authors", headers={"Origin": WEB_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == WEB_ORIGIN
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_rag_and_generate_reach_the_rag_service(services: Services, fake_rag: FakeRag) -> None:
    answer = invoke(rest_event("POST", "/rag", {"query": "What is kerf?", "k": 3}))
    assert answer.status == 200 and answer.body["answer"] == "answer to What is kerf?"
    assert answer.body["sources"][0]["platform"] == "blog"
    draft = invoke(rest_event("POST", "/generate", {"prompt": "on chunking", "kind": "article"}))
    assert draft.status == 200 and draft.body["answer"] == "article: on chunking"
    assert [type(c).__name__ for c in fake_rag.calls] == ["RagRequest", "DraftRequest"]
    assert fake_rag.calls[0].k == 3


def test_rag_placeholder_is_503(services: Services) -> None:
    placeholder = Services(services.settings, services.starter, rag_factory=lambda _s: UnavailableRag())
    with use_services(placeholder):
        for path, body in (("/rag", {"query": "q"}), ("/generate", {"prompt": "p"})):
            reply = invoke(rest_event("POST", path, body))
            assert reply.status == 503 and reply.body == {"message": "RAG service unavailable"}


def test_collection_status_url_keeps_the_stage(services: Services) -> None:
    reply = invoke(rest_event("POST", "/collections", {"all_authors": True}))
    assert reply.status == 202
    run_id = reply.body["run_id"]
    assert reply.body["status_url"] == f"/prod/collections/{run_id}" == reply.headers["location"]
    services.starter.wait(run_id, timeout=60)  # type: ignore[attr-defined]
    done = invoke(
        rest_event("GET", f"/collections/{run_id}", resource=RUN, path_parameters={"run_id": run_id})
    )
    assert done.status == 200 and done.body["run_id"] == run_id and done.body["links"] == []


def test_openapi_document_is_committed_and_served(api_env: None) -> None:
    generated = generate()
    assert OPENAPI_FILE.read_text(encoding="utf-8") == generated, (
        "docs/openapi.json is stale: run python -m llm_twin.api.openapi"
    )
    served = invoke(rest_event("GET", "/openapi.json", headers={"x-api-key": ""}))
    assert served.status == 200
    assert served.body["info"]["title"] == "llm-twin API"
    assert served.body["components"]["securitySchemes"]["apiKey"] == {
        "in": "header",
        "name": "x-api-key",
        "type": "apiKey",
    }
    assert "security" not in served.body["paths"]["/health"]["get"]
    assert served.body["paths"]["/rag"]["post"]["security"] == [{"apiKey": []}]
    assert openapi_json() == generated  # CORS settings do not change the document


def test_non_json_media_type_is_415_and_non_utf8_is_400(services: Services) -> None:
    form = rest_event("POST", "/authors", raw_body="a=b", headers={"Content-Type": "multipart/form-data"})
    assert invoke(form).status == 415
    binary = rest_event("POST", "/rag", raw_body="gICA")  # base64 of 0x80 0x80 0x80
    binary["isBase64Encoded"] = True
    assert invoke(binary).status == 400


def test_step_functions_starter(local_aws: LocalAws) -> None:
    from llm_twin.api.starter import StepFunctionsStarter
    from llm_twin.collection.events import CollectionRequest
    from llm_twin.local.clients import aws_client

    sfn = aws_client("stepfunctions", local_aws.settings)
    arn = sfn.create_state_machine(
        name="collection",
        definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    starter = StepFunctionsStarter(
        local_aws.settings.model_copy(update={"collection_state_machine_arn": arn})
    )
    starter.start(CollectionRequest(author="Ada", links=["https://a.example"], run_id="run-1"))
    execution = sfn.describe_execution(executionArn=starter.execution_arn("run-1"))
    assert execution["name"] == "run-1"
    assert json.loads(execution["input"]) == {
        "author": "Ada",
        "links": ["https://a.example"],
        "all_authors": False,
        "run_id": "run-1",
    }
    assert starter.pending_state("run-1") in ("starting", "failed")
    assert starter.pending_state("never-started") is None
