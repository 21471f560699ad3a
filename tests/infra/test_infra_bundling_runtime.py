"""The layer as built is complete: with only the built layer and the API function on ``sys.path``
(CPython 3.12, ``-I -S``), the API handler serves, the RAG service builds against the AWS configuration,
the OpenSearch client signs requests, the token counter loads its tokenizer.json, and nothing is
compiled at import time. Proves that installing opensearch-py and tokenizers with ``--no-deps`` (no
gRPC transport, no Hub client) leaves out nothing the code needs.

Builds the layer for this machine's architecture (the arm64 wheels of the deployed layer do not load
here; the requirements, pip flags and compile step are the same) offline, from the wheelhouse that
`make` downloads (``make wheelhouse``); skipped, with that command, without it.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.rag import WEB_ORIGIN, lambda_environment  # the API function's environment on AWS
from infra import bundling
from infra.bundling import (
    LEFT_OUT_DISTRIBUTIONS,
    WHEELHOUSE,
    bundle_layer,
    find_python312,
    installed_distributions,
    wheelhouse_problem,
)

pytestmark = [pytest.mark.infra, pytest.mark.slow]

TEXTS = ["", "Hello, world!", "Serverless twins count word pieces: tokenization, embeddings and k-NN."]
NEVER_LOADED = (
    "torch",
    "transformers",
    "sentence_transformers",
    "grpc",
    "google.protobuf",
    "opensearch_protobufs",
    "huggingface_hub",
    "hf_xet",
)
FORBIDDEN_DISTRIBUTIONS = ("torch", "transformers", "sentence-transformers", *LEFT_OUT_DISTRIBUTIONS)

PROBE = r"""
import json, sys
config = json.loads(sys.argv[1])
sys.path[:0] = config["paths"]
import handler

class Context:
    function_name = "llm-twin-dev-api"
    memory_limit_in_mb = "1024"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:llm-twin-dev-api"
    aws_request_id = "layer-test"
    function_version = "$LATEST"
    def get_remaining_time_in_millis(self):
        return 60000

def call(method, path, body=None):
    headers = {"Content-Type": "application/json", "x-api-key": "test", "Origin": config["origin"]}
    event = {
        "resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {"accountId": "123456789012", "apiId": "test", "httpMethod": method,
                           "identity": {"sourceIp": "203.0.113.7", "apiKey": "test"}, "path": "/v1" + path,
                           "requestId": "layer-test", "resourcePath": "/{proxy+}", "stage": "v1"},
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    return handler.handler(event, Context())

out = {}
health = call("GET", "/health")
out["health"] = [health["statusCode"], json.loads(health["body"])]
spec = call("GET", "/openapi.json")  # powertools' OpenAPI models + pydantic schemas of every route
out["openapi"] = [spec["statusCode"], sorted(json.loads(spec["body"])["paths"])]
invalid = call("POST", "/rag", {"unknown": 1})  # RagRequest validation (pydantic), nothing called
out["invalid_rag"] = invalid["statusCode"]

from llm_twin.api.services import get_services
from llm_twin.settings import Settings
out["rag_service"] = type(get_services().rag()).__name__  # UnavailableRag would hide an ImportError

import requests
from llm_twin.features.index.opensearch import build_client
settings = Settings()
client = build_client(settings)
connection = client.transport.get_connection()
request = requests.Request("POST", settings.opensearch_endpoint + "/llm-twin-chunks/_search", data=b"{}")
signed = connection.session.auth(request.prepare())
out["opensearch"] = [type(connection).__name__, signed.headers["Authorization"].split(" ")[0]]

from llm_twin.features.tokens import default_counter
out["tokens"] = [default_counter().count(text) for text in config["texts"]]
out["modules"] = sorted(sys.modules)
out["python"] = "%d.%d" % sys.version_info[:2]
print("RESULT " + json.dumps(out))
"""


def snapshot(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    arch = "aarch64" if platform.machine().lower() in {"aarch64", "arm64"} else "x86_64"
    if problem := wheelhouse_problem(WHEELHOUSE, arch):
        pytest.skip(f"the layer is built offline from the wheelhouse only: {problem}")
    python = find_python312()
    if python is None:
        pytest.skip("no CPython 3.12 here (set LLM_TWIN_LAYER_PYTHON): the layer's cp312 wheels cannot load")
    from infra.constructs.api import HANDLER
    from infra.constructs.function import ASSET_EXCLUDES
    from infra.paths import lambda_dir

    work = tmp_path_factory.mktemp("layer")
    commands: list[list[str]] = []
    real = bundling.pip_command
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_NO_INDEX", "1")  # no index even for a command that would lack --no-index
        mp.setattr(bundling, "pip_command", lambda *a, **k: commands.append(real(*a, **k)) or commands[-1])
        site = bundle_layer(work / "layer", arch=arch, python=python, wheelhouse=WHEELHOUSE)
    assert len(commands) == 2  # the dependencies, then the --no-deps ones
    for cmd in commands:
        assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
        assert "--no-index" in cmd and cmd[cmd.index("--find-links") + 1] == str(WHEELHOUSE), cmd
    function = work / "function"
    shutil.copytree(lambda_dir(HANDLER), function, ignore=shutil.ignore_patterns(*ASSET_EXCLUDES))
    before = snapshot(site)
    config = {"paths": [str(function), str(site)], "origin": WEB_ORIGIN, "texts": TEXTS}
    done = subprocess.run(
        [python, "-I", "-S", "-c", PROBE, json.dumps(config)],  # -I -S: only the layer and the function
        env=lambda_environment(function),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    return SimpleNamespace(site=site, result=result, before=before, after=snapshot(site))


def test_left_out_distributions_are_not_in_the_layer(served: SimpleNamespace) -> None:
    installed = set(installed_distributions(served.site))
    assert {"opensearch-py", "tokenizers", "requests-aws4auth", "aws-lambda-powertools"} <= installed
    assert not installed & set(FORBIDDEN_DISTRIBUTIONS)


def test_the_api_handler_serves_from_the_layer_alone(served: SimpleNamespace) -> None:
    result = served.result
    assert result["python"] == "3.12"
    assert result["health"][0] == 200
    assert result["health"][1]["status"] == "ok"
    assert result["openapi"][0] == 200
    assert {"/health", "/rag"} <= set(result["openapi"][1])
    assert result["invalid_rag"] in {400, 422}


def test_the_rag_service_and_its_clients_build_from_the_layer_alone(served: SimpleNamespace) -> None:
    from llm_twin.features.tokens import WordPieceCounter

    result = served.result
    assert result["rag_service"] == "RagService"
    assert result["opensearch"] == ["RequestsHttpConnection", "AWS4-HMAC-SHA256"]
    assert result["tokens"] == [WordPieceCounter().count(text) for text in TEXTS]  # same as the dev venv
    assert result["tokens"][2] > 10
    loaded = set(result["modules"])
    for module in ("opensearchpy", "tokenizers", "pydantic", "pydantic_settings", "aws_lambda_powertools"):
        assert module in loaded
    assert not {m for m in loaded if re.match(rf"({'|'.join(map(re.escape, NEVER_LOADED))})(\.|$)", m)}


def test_nothing_is_compiled_at_import_time(served: SimpleNamespace) -> None:
    """Every module the cold path and the RAG build import had valid bytecode in the layer: the
    interpreter wrote nothing (on Lambda it could not: /opt is read-only)."""
    assert served.after == served.before
    assert any(name.endswith(".cpython-312.pyc") for name in served.before)
