"""SSRF guard: URL pre-checks and a requests adapter that validates every address it connects to.

The pre-check (:meth:`AddressPolicy.check_url`) rejects bad schemes, malformed URLs and IP literals in
any spelling (``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``) with a clear message, without DNS.
The real guard is :class:`GuardedHTTPAdapter`: its urllib3 connections resolve the host themselves and
only ``connect()`` to addresses the policy allows, so DNS rebinding (a name that resolves to a public
address for the check and to 169.254.169.254 for the connection) cannot reach a private address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from llm_twin.errors import BlockedUrlError, InvalidUrlError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d form
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What inet_aton accepts and the C resolver treats as an IPv4 address: 1-4 parts, decimal/octal/hex.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_LABELS = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$")
_FORBIDDEN_CHARS = re.compile(r"[\s\x00-\x1f\x7f\\]")

SocketHook = Callable[[socket.socket], None]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_ip(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (IPv6 forms embedding IPv4 are unwrapped)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_ip(embedded)
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host denotes when it is an IP literal in any spelling, else None."""
    host = host.strip("[]").lower()
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    last_label = host.rstrip(".").rsplit(".", 1)[-1]
    if _NUMERIC_HOST.match(host) or _NUMERIC_LABEL.match(last_label):  # WHATWG: a numeric end means IPv4
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            raise InvalidUrlError(f"invalid numeric host {host!r}") from None
    return None


def _normalize_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


@dataclass(frozen=True)
class AddressPolicy:
    """Which hosts and addresses may be contacted. ``allow_hosts`` (names or IP literals) are exempt."""

    allow_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_hosts(cls, hosts: Iterable[str]) -> AddressPolicy:
        normalized = set()
        for host in hosts:
            name = _normalize_host(host)
            ip = parse_ip_literal(name) if name else None
            normalized.add(str(ip) if ip is not None else name)
        return cls(frozenset(h for h in normalized if h))

    def host_allowed(self, host: str) -> bool:
        return _normalize_host(host) in self.allow_hosts

    def _allows_loopback(self) -> bool:
        """An allowed loopback IP lets loopback names through to the resolved-address check."""
        for host in self.allow_hosts:
            try:
                if ipaddress.ip_address(host).is_loopback:
                    return True
            except ValueError:
                continue
        return False

    def check_address(self, host: str, ip: IPAddress) -> None:
        """Raise BlockedUrlError unless ``host`` (as named in the URL) may connect to ``ip``."""
        if self.host_allowed(host) or str(ip) in self.allow_hosts or is_public_ip(ip):
            return
        raise BlockedUrlError(
            f"refusing to connect to {host!r} ({ip}): not a public address (private, loopback, link-local, "
            "multicast or reserved); add the host to LLM_TWIN_CRAWL_ALLOW_HOSTS to allow it"
        )

    def check_url(self, url: str) -> SplitResult:
        """Cheap checks before any DNS lookup; returns the split URL."""
        if not isinstance(url, str) or not url:
            raise InvalidUrlError("the URL is empty")
        if _FORBIDDEN_CHARS.search(url):
            raise InvalidUrlError(f"the URL {url[:200]!r} contains spaces, backslashes or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidUrlError(f"malformed URL {url[:200]!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if not scheme:
            raise InvalidUrlError(f"the URL {url[:200]!r} needs an http:// or https:// scheme")
        if scheme not in ALLOWED_SCHEMES:
            raise BlockedUrlError(f"scheme {scheme!r} is not allowed (only http and https): {url[:200]!r}")
        if parts.username is not None or parts.password is not None:
            raise InvalidUrlError("credentials in URLs are not supported")
        host = parts.hostname or ""
        if not host:
            raise InvalidUrlError(f"the URL {url[:200]!r} has no host")
        if port == 0:
            raise InvalidUrlError(f"the URL {url[:200]!r} has port 0")
        ip = parse_ip_literal(host)
        if ip is None:
            try:
                ascii_host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise InvalidUrlError(f"invalid host name {host!r}") from None
            if not _HOST_LABELS.match(ascii_host) or len(ascii_host) > 253:
                raise InvalidUrlError(f"invalid host name {host!r}")
            bare = ascii_host.rstrip(".")
            loopback_name = bare in {"localhost", "localhost.localdomain"} or bare.endswith(".localhost")
            if loopback_name and not self.host_allowed(ascii_host) and not self._allows_loopback():
                raise BlockedUrlError(
                    f"refusing to connect to {host!r} (loopback); add it to LLM_TWIN_CRAWL_ALLOW_HOSTS"
                )
        else:
            self.check_address(host, ip)
        return parts


def guarded_create_connection(
    policy: AddressPolicy,
    host: str,
    port: int,
    timeout: Any,
    source_address: tuple[str, int] | None = None,
    socket_options: list[tuple[int, int, int | bytes]] | None = None,
) -> socket.socket:
    """Resolve ``host`` and connect only to allowed addresses (BlockedUrlError if none is allowed)."""
    host = host.strip("[]")
    blocked: BlockedUrlError | None = None
    error: OSError | None = None
    for family, socktype, proto, _, sockaddr in socket.getaddrinfo(
        host, port, allowed_gai_family(), socket.SOCK_STREAM
    ):
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        try:
            policy.check_address(host, ip)
        except BlockedUrlError as exc:
            blocked = exc
            continue
        sock = socket.socket(family, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
            policy.check_address(host, peer)
            return sock
        except BaseException as exc:
            sock.close()
            if isinstance(exc, OSError):
                error = exc
                continue
            raise
    if error is not None:
        raise error
    if blocked is not None:
        raise blocked
    raise OSError(f"getaddrinfo returned no address for {host!r}")


class _GuardedConnectionMixin:
    """Replaces urllib3's socket creation with :func:`guarded_create_connection`."""

    policy: AddressPolicy = AddressPolicy()
    socket_hook: SocketHook | None = None

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        try:
            sock = guarded_create_connection(
                self.policy,
                conn._dns_host,
                conn.port,
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
        self._notify(sock)
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._notify(getattr(self, "sock", None))

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._notify(getattr(self, "sock", None))
        super().request(*args, **kwargs)  # type: ignore[misc]

    def _notify(self, sock: socket.socket | None) -> None:
        hook = type(self).socket_hook
        if hook is not None and sock is not None:
            hook(sock)


class GuardedHTTPAdapter(HTTPAdapter):
    """A requests adapter whose connections enforce ``policy`` on the resolved peer address.

    ``socket_hook`` is called with every socket a request uses (the fetcher's deadline watchdog).
    """

    def __init__(self, policy: AddressPolicy, socket_hook: SocketHook | None = None) -> None:
        attrs = {"policy": policy, "socket_hook": staticmethod(socket_hook) if socket_hook else None}
        http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), attrs)
        https_conn = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), attrs)
        self._pool_classes = {
            "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type(
                "GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
            ),
        }
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise BlockedUrlError("proxies are not supported by the guarded fetcher")
