"""The guard and the deadline also hold on HTTPS connections (a self-signed loopback server)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from llm_twin.crawling.fetcher import Fetcher
from llm_twin.errors import BlockedUrlError, FetchError, TransientFetchError

from .conftest import LocalServer, make_settings


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[LocalServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    srv = LocalServer(tls=context).start()
    try:
        yield srv
    finally:
        srv.close()


def tls_fetcher(certificate: tuple[Path, Path], **overrides: object) -> Fetcher:
    session = requests.Session()
    session.verify = str(certificate[0])
    return Fetcher(make_settings(**overrides), session=session)


def test_https_fetch_through_the_guard(tls_server: LocalServer, certificate: tuple[Path, Path]) -> None:
    url = tls_server.route("/secure", "<p>over TLS</p>")
    assert url.startswith("https://")
    assert tls_fetcher(certificate).fetch(url).text == "<p>over TLS</p>"
    with pytest.raises(BlockedUrlError):
        tls_fetcher(certificate, crawl_allow_hosts=[]).fetch(url)
    assert tls_server.hits["/secure"] == 1


def test_untrusted_certificate_is_not_retried(tls_server: LocalServer) -> None:
    url = tls_server.route("/secure", "<p>over TLS</p>")
    with pytest.raises(FetchError, match="TLS") as info:
        Fetcher(make_settings()).fetch(url)  # the system CA bundle does not know this certificate
    assert not isinstance(info.value, TransientFetchError)


def test_https_slow_drip_hits_the_deadline(tls_server: LocalServer, certificate: tuple[Path, Path]) -> None:
    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        while not tls_server.stop.is_set():
            handler.wfile.write(b"a")
            handler.wfile.flush()
            time.sleep(0.05)

    url = tls_server.route("/drip", drip)
    fetcher = tls_fetcher(certificate, crawl_timeout_s=1.0, crawl_max_retries=0)
    started = time.monotonic()
    with pytest.raises(TransientFetchError, match="deadline"):
        fetcher.fetch(url)
    assert time.monotonic() - started < 2.5


def test_a_custom_adapter_on_the_session_cannot_bypass_the_guard() -> None:
    session = requests.Session()
    session.mount("http://10.0.0.1/", requests.adapters.HTTPAdapter())
    fetcher = Fetcher(make_settings(crawl_allow_hosts=[]), session=session)
    with pytest.raises(BlockedUrlError):
        fetcher.session.get("http://10.0.0.1/", timeout=1)
