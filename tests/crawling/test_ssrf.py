"""The SSRF guard: URL pre-checks, resolved-address checks, redirects and DNS rebinding."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import pytest

from llm_twin.crawling.fetcher import Fetcher
from llm_twin.crawling.ssrf import AddressPolicy, is_public_ip, parse_ip_literal
from llm_twin.errors import BlockedUrlError, InvalidUrlError

from .conftest import LocalServer, Reply, make_settings

BLOCKED_LITERALS = [
    "http://10.0.0.1/",
    "http://192.168.1.1/admin",
    "http://172.16.5.4/",
    "http://127.0.0.1/",
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0x7f000001/",  # hex
    "http://0177.0.0.1/",  # octal
    "http://127.1/",
    "http://0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://255.255.255.255/",
    "http://[::]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://localhost/",
    "http://LOCALHOST./",
    "http://app.localhost/",
]


@pytest.fixture
def spy_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every host name resolved (the guard resolves before any connect)."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def spy(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    return seen


def fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in table:
            out = []
            for address in table[host]:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
                out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
            return out
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.mark.parametrize("url", BLOCKED_LITERALS)
def test_non_public_addresses_are_blocked_without_dns(url: str, spy_dns: list[str]) -> None:
    fetcher = Fetcher(make_settings(crawl_allow_hosts=[]))
    with pytest.raises(BlockedUrlError):
        fetcher.fetch(url)
    assert spy_dns == []  # refused by the pre-check: nothing resolved, nothing connected


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://example.com:70/_x", "ftp://example.com/", "data:text/html,hi"]
)
def test_other_schemes_are_blocked(url: str) -> None:
    with pytest.raises(BlockedUrlError, match="scheme"):
        Fetcher(make_settings()).fetch(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com/page",
        "http://",
        "http:///path",
        "http://exa mple.com/",
        "http://example.com/a b",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://[::1/",
        "http://exa\x00mple.com/",
        "http://user:pass@example.com/",
        "http://bad_host!.com/",
        "http://1.2.3.4.5/",
        "http://999999999999/",
    ],
)
def test_malformed_urls_are_invalid(url: str) -> None:
    with pytest.raises(InvalidUrlError):
        Fetcher(make_settings()).fetch(url)


def test_loopback_server_is_blocked_unless_allowed(server: LocalServer) -> None:
    url = server.route("/page", "<p>hello</p>")
    with pytest.raises(BlockedUrlError, match="LLM_TWIN_CRAWL_ALLOW_HOSTS"):
        Fetcher(make_settings(crawl_allow_hosts=[])).fetch(url)
    with pytest.raises(BlockedUrlError):
        Fetcher(make_settings(crawl_allow_hosts=[])).fetch(f"http://localhost:{server.port}/page")
    assert server.hits["/page"] == 0
    assert Fetcher(make_settings()).fetch(url).text == "<p>hello</p>"


def test_localhost_allowed_by_name_or_by_its_ip(server: LocalServer) -> None:
    server.route("/page", "<p>hello</p>")
    by_name = Fetcher(make_settings(crawl_allow_hosts=["LOCALHOST"]))
    assert by_name.fetch(f"http://localhost:{server.port}/page").status == 200
    by_ip = Fetcher(make_settings(crawl_allow_hosts=["127.0.0.1"]))
    assert by_ip.fetch(f"http://localhost:{server.port}/page").status == 200


def test_redirect_to_metadata_service_is_refused_before_connecting(
    server: LocalServer, spy_dns: list[str]
) -> None:
    url = server.route(
        "/go", Reply(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    with pytest.raises(BlockedUrlError, match=r"169\.254\.169\.254"):
        Fetcher(make_settings()).fetch(url)
    assert server.hits["/go"] == 1
    assert "169.254.169.254" not in spy_dns


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "http://[::ffff:10.0.0.1]/", "http://0x0a000001/"]
)
def test_redirects_are_revalidated(server: LocalServer, location: str) -> None:
    url = server.route("/go", Reply(status=301, headers={"Location": location}))
    with pytest.raises(BlockedUrlError):
        Fetcher(make_settings()).fetch(url)


def test_dns_rebinding_is_caught_at_connection_time(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public-looking name that resolves to loopback passes the URL pre-check but not the connection."""
    server.route("/secret", "top secret")
    fake_dns(monkeypatch, {"rebind.example": ["127.0.0.1"]})
    fetcher = Fetcher(make_settings(crawl_allow_hosts=[]))
    url = f"http://rebind.example:{server.port}/secret"
    fetcher.check_url(url)  # the cheap pre-check cannot know
    with pytest.raises(BlockedUrlError, match=r"rebind\.example.*127\.0\.0\.1"):
        fetcher.fetch(url)
    assert server.hits["/secret"] == 0


def test_connection_skips_blocked_addresses_of_a_name(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/page", "ok")
    fake_dns(monkeypatch, {"multi.example": ["10.0.0.1", "127.0.0.1"]})
    fetcher = Fetcher(make_settings(crawl_allow_hosts=["127.0.0.1"]))
    assert fetcher.fetch(f"http://multi.example:{server.port}/page").text == "ok"
    fake_dns(monkeypatch, {"meta.example": ["169.254.169.254", "::1"]})
    with pytest.raises(BlockedUrlError):
        fetcher.fetch(f"http://meta.example:{server.port}/page")


def test_environment_proxies_are_ignored(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.route("/page", "direct")
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("http_proxy", "http://10.9.9.9:3128")
    assert (
        Fetcher(make_settings(crawl_max_retries=0, crawl_timeout_s=1)).fetch(server.url("/page")).text
        == "direct"
    )


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("100.127.255.255", False),
        ("198.18.0.1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("::ffff:192.168.0.1", False),
        ("2001:db8::1", False),
    ],
)
def test_is_public_ip(address: str, public: bool) -> None:
    assert is_public_ip(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("host", "expected"),
    [("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("[::1]", "::1"), ("example.com", None)],
)
def test_parse_ip_literal(host: str, expected: str | None) -> None:
    parsed = parse_ip_literal(host)
    assert (str(parsed) if parsed else None) == expected


def test_policy_normalizes_allow_list() -> None:
    policy = AddressPolicy.from_hosts(["Example.COM.", "[::1]", " 2130706433 "])
    assert policy.allow_hosts == frozenset({"example.com", "::1", "127.0.0.1"})
    check: Callable[[str], object] = policy.check_url
    check("http://[::1]:8080/")
    check("http://2130706433/")
