"""The local server over HTTP on 127.0.0.1: API key and body cap like API Gateway, the same handler,
the web page folder, and a collection started with POST and polled until done."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from llm_twin.api.local_server import LocalApiServer
from llm_twin.local.aws import LocalAws
from llm_twin.sample.server import SampleSite
from tests.api.conftest import WEB_ORIGIN, FakeRag

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
KEY = "local-test-key"


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    root.mkdir()
    return root


@pytest.fixture
def server(local_aws: LocalAws, api_env: None, web_root: Path, fake_rag: FakeRag) -> Iterator[LocalApiServer]:
    changes = threading.Semaphore(0)
    with LocalApiServer(
        local_aws.settings,
        api_key=KEY,
        web_root=web_root,
        rag_factory=lambda _settings: fake_rag,
        on_change=changes.release,
    ) as running:
        running.changes = changes  # type: ignore[attr-defined]
        yield running


def call(
    server: LocalApiServer, method: str, path: str, key: str | None = KEY, **kw: object
) -> requests.Response:
    headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
    if key is not None:
        headers["x-api-key"] = key
    return requests.request(method, f"{server.url}{path}", headers=headers, timeout=30, **kw)  # type: ignore[arg-type]


def test_api_key_enforced_except_public_routes(server: LocalApiServer) -> None:
    assert call(server, "GET", "/health", key=None).json()["status"] == "ok"
    assert call(server, "GET", "/openapi.json", key=None).status_code == 200
    for key in (None, "", "wrong"):
        reply = call(server, "GET", "/authors", key=key)
        assert reply.status_code == 403 and reply.json() == {"message": "Forbidden"}
    assert call(server, "POST", "/rag", key="wrong", json={"query": "q"}).status_code == 403
    assert call(server, "GET", "/authors").json() == {"authors": []}


def test_authors_over_http(server: LocalApiServer) -> None:
    created = call(
        server, "POST", "/authors", json={"full_name": "Grace Hopper", "links": ["https://g.example"]}
    )
    assert created.status_code == 201 and created.json()["author_id"] == "grace-hopper"
    assert call(server, "GET", "/authors/grace-hopper").json()["links"] == ["https://g.example/"]
    put = call(server, "PUT", "/authors/grace-hopper", json={"schedule_enabled": False})
    assert put.status_code == 200 and put.json()["schedule_enabled"] is False
    assert call(server, "GET", "/authors/nobody").status_code == 404
    assert call(server, "DELETE", "/authors/grace-hopper").status_code == 204
    assert call(server, "GET", "/authors/grace-hopper").status_code == 404
    assert server.changes.acquire(timeout=5)  # type: ignore[attr-defined]  # writes notify the sync hook


def test_bad_input_over_http(server: LocalApiServer) -> None:
    bad_json = call(server, "POST", "/authors", data=b"{oops", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["message"]
    missing = call(server, "POST", "/collections", json={})
    assert missing.status_code == 422 and missing.json()["details"]
    blocked = call(server, "POST", "/authors", json={"full_name": "X", "links": ["http://169.254.169.254/"]})
    assert blocked.status_code == 422 and "not a public address" in blocked.json()["message"]
    assert call(server, "GET", "/collections/no-such-run").status_code == 404
    bad_limit = call(server, "GET", "/collections/no-such-run?limit=0")  # the query string reaches it
    assert bad_limit.status_code == 400 and "limit" in bad_limit.json()["message"]
    assert call(server, "GET", "/no/such/route").status_code == 404


def test_oversized_body_is_refused_without_reading_it(server: LocalApiServer) -> None:
    reply = call(server, "POST", "/authors", data=b"x" * 70_000, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and "65536" in reply.json()["message"]
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # a 10 MB claim, 0 bytes sent
        sock.sendall(
            b"POST /authors HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\nx-api-key: "
            + KEY.encode()
            + b"\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 413")


def test_cors_and_preflight_over_http(server: LocalApiServer) -> None:
    reply = call(server, "GET", "/authors", headers={"Origin": WEB_ORIGIN})
    assert reply.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    assert (
        "Access-Control-Allow-Origin"
        not in call(server, "GET", "/authors", headers={"Origin": "https://x.example"}).headers
    )
    preflight = call(
        server,
        "OPTIONS",
        "/collections",
        key=None,
        headers={"Origin": WEB_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN


def test_web_page_folder(server: LocalApiServer, web_root: Path) -> None:
    missing = call(server, "GET", "/", key=None)
    assert missing.status_code == 404 and "text/html" in missing.headers["Content-Type"]
    (web_root / "index.html").write_text("<h1>twin</h1>", encoding="utf-8")
    (web_root / "app.js").write_text("console.log(1)", encoding="utf-8")
    page = call(server, "GET", "/", key=None)
    assert (
        page.status_code == 200
        and page.text == "<h1>twin</h1>"
        and "text/html" in page.headers["Content-Type"]
    )
    assert call(server, "GET", "/app.js", key=None).text == "console.log(1)"
    assert (
        call(server, "GET", "/../../etc/passwd", key=None).status_code == 403
    )  # not a file: the API, no key


def test_rag_over_http(server: LocalApiServer) -> None:
    reply = call(server, "POST", "/rag", json={"query": "What does she write about?"})
    assert reply.status_code == 200 and reply.json()["answer"] == "answer to What does she write about?"


def test_collection_started_and_polled_until_done(server: LocalApiServer, site: SampleSite) -> None:
    blog = site.base_url("blog")
    missing = f"{blog}/no-such-post/"
    started = call(
        server, "POST", "/collections", json={"author": site.author_name, "links": [blog, missing]}
    )
    assert started.status_code == 202
    accepted = started.json()
    assert accepted["status"] == "starting" and started.headers["Location"] == accepted["status_url"]

    deadline = time.monotonic() + 120
    seen = []
    while True:
        report = call(server, "GET", accepted["status_url"]).json()
        seen.append(report["status"])
        if report["status"] not in ("starting", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert seen[0] in ("starting", "running")
    assert report["status"] == "partial", report
    links = {link["link"]: link for link in report["links"]}
    assert links[blog]["status"] == "ok" and links[blog]["new"] == len(site.pieces("blog"))
    assert links[missing]["status"] == "failed" and "404" in links[missing]["reason"]
    assert report["counts"]["ok"] == 1 and report["counts"]["failed"] == 1
    assert report["next_cursor"] is None  # one page holds a small run
    first = call(server, "GET", accepted["status_url"] + "?limit=1").json()
    second = call(server, "GET", f"{accepted['status_url']}?limit=1&cursor={first['next_cursor']}").json()
    assert [link["link"] for link in first["links"] + second["links"]] == [blog, missing]
    assert second["next_cursor"] is None and second["counts"] == first["counts"] == report["counts"]
    assert server.changes.acquire(timeout=10)  # type: ignore[attr-defined]  # then the index is synced
    author = call(server, "GET", "/authors/" + report["links"][0]["author_id"]).json()
    assert author["full_name"] == site.author_name
