"""The fetcher against real loopback servers: retries, caps, deadlines, redirects, decoding."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

from llm_twin.crawling.fetcher import Fetcher, parse_retry_after
from llm_twin.errors import (
    FetchError,
    HttpStatusError,
    ResponseTooLargeError,
    TransientFetchError,
)

from .conftest import LocalServer, Reply, SleepRecorder, make_settings

TWENTY_MB = 20 * 1024 * 1024


class Streamer:
    """Writes a big body in 64 KB chunks and records how much the client let it write."""

    def __init__(self, total: int, *, content_length: bool) -> None:
        self.total = total
        self.content_length = content_length
        self.written = 0
        self.done = threading.Event()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            if self.content_length:
                handler.send_header("Content-Length", str(self.total))
            else:
                handler.send_header("Connection", "close")
            handler.end_headers()
            chunk = b"x" * 65536
            while self.written < self.total:
                handler.wfile.write(chunk)
                self.written += len(chunk)
        finally:
            handler.close_connection = True
            self.done.set()


def test_fetch_returns_body_headers_and_final_url(server: LocalServer, fetcher: Fetcher) -> None:
    server.route("/start", Reply(status=302, headers={"Location": "/middle"}))
    server.route("/middle", Reply(status=307, headers={"Location": server.url("/end")}))
    server.route("/end", Reply("<p>done</p>", headers={"X-Test": "yes"}))
    response = fetcher.fetch(server.url("/start"))
    assert response.url == server.url("/end")
    assert response.status == 200
    assert response.headers["x-test"] == "yes"
    assert response.content_type == "text/html"
    assert response.text == "<p>done</p>"
    assert server.hits == {"/start": 1, "/middle": 1, "/end": 1}


def test_user_agent_and_accept_are_sent(server: LocalServer) -> None:
    seen: dict[str, str] = {}

    def echo(handler: BaseHTTPRequestHandler) -> None:
        seen.update({k.lower(): v for k, v in handler.headers.items()})
        Reply("ok").send(handler)

    server.route("/echo", echo)
    Fetcher(make_settings(crawl_user_agent="twin-test/1.0")).fetch(server.url("/echo"), accept="text/x-test")
    assert seen["user-agent"] == "twin-test/1.0"
    assert seen["accept"] == "text/x-test"


def test_too_many_redirects(server: LocalServer) -> None:
    server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    with pytest.raises(FetchError, match="redirects"):
        Fetcher(make_settings(crawl_max_redirects=3)).fetch(server.url("/loop"))
    assert server.hits["/loop"] == 4


def test_503_then_200_is_retried(server: LocalServer, fetcher: Fetcher, sleeps: SleepRecorder) -> None:
    server.route("/flaky", [Reply("busy", status=503), Reply("fine")])
    assert fetcher.fetch(server.url("/flaky")).text == "fine"
    assert server.hits["/flaky"] == 2
    assert len(sleeps.calls) == 1


def test_503_forever_raises_transient(server: LocalServer, fetcher: Fetcher, sleeps: SleepRecorder) -> None:
    server.route("/down", Reply("busy", status=503))
    with pytest.raises(TransientFetchError, match="503") as info:
        fetcher.fetch(server.url("/down"))
    assert info.value.transient is True
    assert server.hits["/down"] == 3  # crawl_max_retries=2 → 3 attempts
    assert len(sleeps.calls) == 2


def test_backoff_grows_exponentially_with_jitter(server: LocalServer, sleeps: SleepRecorder) -> None:
    server.route("/down", Reply("busy", status=500))
    fetcher = Fetcher(make_settings(crawl_backoff_s=1.0, crawl_max_retries=3), sleep=sleeps)
    with pytest.raises(TransientFetchError):
        fetcher.fetch(server.url("/down"))
    assert len(sleeps.calls) == 3
    for attempt, delay in enumerate(sleeps.calls):
        assert 0.5 * 2**attempt <= delay <= 2**attempt


def test_retry_after_is_respected_and_capped(server: LocalServer, sleeps: SleepRecorder) -> None:
    server.route("/limited", [Reply(status=429, headers={"Retry-After": "7"}),
                              Reply(status=429, headers={"Retry-After": "3600"}), Reply("ok")])  # fmt: skip
    fetcher = Fetcher(make_settings(), sleep=sleeps, max_retry_after_s=30)
    assert fetcher.fetch(server.url("/limited")).text == "ok"
    assert sleeps.calls == [7.0, 30.0]


def test_parse_retry_after() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
def test_4xx_is_not_retried(
    server: LocalServer, fetcher: Fetcher, sleeps: SleepRecorder, status: int
) -> None:
    server.route("/gone", Reply("no", status=status))
    with pytest.raises(HttpStatusError) as info:
        fetcher.fetch(server.url("/gone"))
    assert info.value.status == status
    assert info.value.transient is False
    assert server.hits["/gone"] == 1
    assert sleeps.calls == []


def test_connection_refused_is_transient(sleeps: SleepRecorder) -> None:
    closed = LocalServer()
    port = closed.port
    closed.httpd.server_close()
    fetcher = Fetcher(make_settings(crawl_max_retries=1), sleep=sleeps)
    with pytest.raises(TransientFetchError, match="connection"):
        fetcher.fetch(f"http://127.0.0.1:{port}/")
    assert len(sleeps.calls) == 1


@pytest.mark.parametrize("content_length", [True, False])
def test_twenty_megabytes_are_refused_without_buffering(server: LocalServer, content_length: bool) -> None:
    streamer = Streamer(TWENTY_MB, content_length=content_length)
    server.route("/big", streamer)
    fetcher = Fetcher(make_settings(crawl_max_bytes=1_000_000, crawl_max_retries=0))
    started = time.monotonic()
    with pytest.raises(ResponseTooLargeError):
        fetcher.fetch(server.url("/big"))
    assert time.monotonic() - started < 3
    assert streamer.done.wait(5)
    assert streamer.written < TWENTY_MB  # the client hung up long before the end


def test_max_bytes_argument_overrides_settings(server: LocalServer, fetcher: Fetcher) -> None:
    server.route("/kb", Reply(b"y" * 2048, content_type="text/plain"))
    with pytest.raises(ResponseTooLargeError):
        fetcher.fetch(server.url("/kb"), max_bytes=1024)
    assert len(fetcher.fetch(server.url("/kb"), max_bytes=4096).content) == 2048


def _drip(server: LocalServer, interval: float) -> object:
    def handler(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        while not server.stop.is_set():
            handler.wfile.write(b"a")
            handler.wfile.flush()
            time.sleep(interval)

    return handler


def test_slow_drip_body_hits_the_wall_clock_deadline(server: LocalServer) -> None:
    server.route("/drip", _drip(server, 0.05))  # every read succeeds: only the deadline can stop it
    fetcher = Fetcher(make_settings(crawl_timeout_s=1.0, crawl_max_retries=0))
    started = time.monotonic()
    with pytest.raises(TransientFetchError, match="deadline"):
        fetcher.fetch(server.url("/drip"))
    assert 0.9 <= time.monotonic() - started < 2.5


def test_slow_drip_headers_hit_the_deadline(server: LocalServer) -> None:
    def handler(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        while not server.stop.is_set():
            handler.wfile.write(b"X-Drip: a\r\n")
            handler.wfile.flush()
            time.sleep(0.05)

    server.route("/drip-headers", handler)
    fetcher = Fetcher(make_settings(crawl_timeout_s=1.0, crawl_max_retries=0))
    started = time.monotonic()
    with pytest.raises(TransientFetchError):
        fetcher.fetch(server.url("/drip-headers"))
    assert time.monotonic() - started < 2.5


def test_silent_server_hits_the_read_timeout(server: LocalServer, sleeps: SleepRecorder) -> None:
    def handler(handler: BaseHTTPRequestHandler) -> None:
        server.stop.wait(10)

    server.route("/silent", handler)
    fetcher = Fetcher(make_settings(crawl_timeout_s=0.5, crawl_max_retries=1), sleep=sleeps)
    started = time.monotonic()
    with pytest.raises(TransientFetchError):
        fetcher.fetch(server.url("/silent"))
    assert time.monotonic() - started < 2.5  # two attempts of ~0.5 s
    assert server.hits["/silent"] == 2


def test_per_call_timeout_extends_the_deadline(server: LocalServer) -> None:
    def handler(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "10")
        handler.end_headers()
        for _ in range(10):
            handler.wfile.write(b"z")
            handler.wfile.flush()
            time.sleep(0.08)

    server.route("/slowish", handler)
    fetcher = Fetcher(make_settings(crawl_timeout_s=0.5, crawl_max_retries=0))
    assert fetcher.fetch(server.url("/slowish"), timeout_s=3).content == b"z" * 10


# --- decoding ---------------------------------------------------------------------------------------

LATIN = "Café \u2013 naïve \u201cquotes\u201d cost €5"  # en dash and curly quotes: cp1252-only


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="windows-1252">',
        '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
    ],
)
def test_meta_charset_decodes_cp1252(server: LocalServer, fetcher: Fetcher, meta: str) -> None:
    html = f"<html><head>{meta}</head><body><p>{LATIN}</p></body></html>"
    server.route("/latin", Reply(html.encode("cp1252"), content_type="text/html"))
    assert LATIN in fetcher.fetch(server.url("/latin")).text


def test_header_charset_wins_over_meta(server: LocalServer, fetcher: Fetcher) -> None:
    html = f'<html><head><meta charset="utf-8"></head><body><p>{LATIN}</p></body></html>'
    server.route("/h", Reply(html.encode("cp1252"), content_type="text/html; charset=windows-1252"))
    assert LATIN in fetcher.fetch(server.url("/h")).text


def test_shift_jis_without_declaration_is_detected(server: LocalServer, fetcher: Fetcher) -> None:
    text = (
        "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
        "何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
    )
    html = f"<html><head><title>猫</title></head><body><p>{text}</p></body></html>"
    server.route("/ja", Reply(html.encode("shift_jis"), content_type="text/html"))
    assert text in fetcher.fetch(server.url("/ja")).text


def test_undecodable_bytes_never_raise(server: LocalServer, fetcher: Fetcher) -> None:
    server.route("/junk", Reply(b"<p>ok \xff\xfe\xfd \x80 end</p>", content_type="text/html; charset=utf-8"))
    text = fetcher.fetch(server.url("/junk")).text
    assert text.startswith("<p>ok ") and text.endswith(" end</p>")
    assert "\ufffd" in text


def test_gzip_content_encoding_is_decoded(server: LocalServer, fetcher: Fetcher) -> None:
    import gzip

    body = gzip.compress(b"<p>compressed</p>")
    server.route("/gz", Reply(body, headers={"Content-Encoding": "gzip"}))
    assert fetcher.fetch(server.url("/gz")).text == "<p>compressed</p>"
