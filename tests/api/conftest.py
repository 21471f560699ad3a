"""API test fixtures: synthetic API Gateway REST proxy events, the real handler, local AWS, fakes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from llm_twin.api.services import Services, use_services
from llm_twin.api.starter import LocalCollectionStarter
from llm_twin.local.aws import LocalAws
from llm_twin.rag.models import DraftRequest, RagAnswer, RagRequest, Source
from llm_twin.workflows.lambda_invoke import LambdaContext

WEB_ORIGIN = "https://twin.example.com"


class FakeRag:
    """Stands in for the RAG service: echoes the request so tests can see it arrived validated."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def _answer(self, text: str) -> RagAnswer:
        source = Source(
            number=1,
            cited=True,
            title="A post",
            link="https://example.com/post",
            platform="blog",
            category="article",
            document_id="d" * 32,
            chunk_id="d" * 32 + "-0",
            score=0.9,
            excerpt="an excerpt",
        )
        return RagAnswer(answer=text, sources=[source], trace_id="trace-1", grounded=True)

    def answer(self, request: RagRequest) -> RagAnswer:
        self.calls.append(request)
        return self._answer(f"answer to {request.query}")

    def draft(self, request: DraftRequest) -> RagAnswer:
        self.calls.append(request)
        return self._answer(f"{request.kind}: {request.prompt}")


def rest_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, written by hand from the AWS documentation's sample."""
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    all_headers = {"Content-Type": "application/json", "x-api-key": "key", **(headers or {})}
    request_id = str(uuid.uuid4())
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.7", "apiKey": "key"},
            "path": f"/prod{path}",
            "requestId": request_id,
            "resourcePath": resource or path,
            "stage": "prod",
        },
        "body": text,
        "isBase64Encoded": False,
    }


def lambda_context() -> LambdaContext:
    return LambdaContext(
        function_name="llm-twin-api",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:llm-twin-api",
        aws_request_id=str(uuid.uuid4()),
        _deadline=float("inf"),
    )


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def invoke(event: dict[str, Any]) -> Reply:
    from lambdas.api.handler import handler

    result = handler(event, lambda_context())
    text = result.get("body") or ""
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), ",".join(values))
    return Reply(result["statusCode"], headers, json.loads(text) if text else None)


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_TWIN_WEB_ORIGIN", WEB_ORIGIN)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("LLM_TWIN_API_KEY", raising=False)


@pytest.fixture
def fake_rag() -> FakeRag:
    return FakeRag()


@pytest.fixture
def services(local_aws: LocalAws, api_env: None, fake_rag: FakeRag) -> Iterator[Services]:
    """Real warehouse on moto, the local collection starter, a fake RAG service."""
    starter = LocalCollectionStarter(local_aws.settings)
    installed = Services(local_aws.settings, starter, rag_factory=lambda _settings: fake_rag)
    with use_services(installed):
        yield installed
    starter.wait(timeout=60)
