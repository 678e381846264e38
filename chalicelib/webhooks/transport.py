"""The SSRF-safe HTTP client of webhook deliveries.

A target URL is checked twice: when an admin registers it (`check_url`: the scheme, no
credentials in the URL, an IP literal in a refused range) and at every attempt (`send`): the
host name is resolved once, every address it resolves to must be public, and the connection is
made to that pinned address (TLS SNI and `Host` carry the name, so the certificate is checked
against the name). A name that resolves to an internal address, or that changes its answer
between the check and the connect (DNS rebinding), cannot reach an internal service.

Refused: private (RFC 1918, IPv6 ULA), loopback, link-local (IPv4 and IPv6), CGNAT
(100.64.0.0/10), multicast, reserved, unspecified and every other non-global range, IPv4-mapped,
6to4, Teredo and NAT64 IPv6 forms (they reach IPv4 addresses), and the cloud metadata addresses
(169.254.169.254, fd00:ec2::254). Only https, except on the `local` stage, where
`http(s)://127.0.0.1` and `http(s)://localhost` are accepted too, so the local stack can
deliver to a receiver on the same machine; the metadata addresses and private ranges stay
refused there. Redirects are never followed (a 3xx is a failed attempt), every socket operation
has a timeout, and only a short prefix of the response body is read.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from chalicelib.core.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
LOCAL_STAGE = "local"
LOCAL_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1"}
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# Ranges the interpreter's `ipaddress` tables have not always called non-global (they changed
# between Python releases): refused by name, whatever the tables say.
EXTRA_REFUSED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (ipaddress.ip_network("0.0.0.0/8"), "unspecified"),
    (ipaddress.ip_network("192.0.0.0/24"), "reserved"),  # IETF protocol assignments
    (ipaddress.ip_network("198.18.0.0/15"), "reserved"),  # benchmarking
    (ipaddress.ip_network("240.0.0.0/4"), "reserved"),
    (ipaddress.ip_network("fec0::/10"), "site_local"),
    (ipaddress.ip_network("2001:db8::/32"), "reserved"),  # documentation
)
USER_AGENT = "Deskguard-Webhooks/1"


# Refusals that are not a client slip but an address the service must not reach: each is a
# `security.suspicious_activity` event (an admin probing the network, or a name rebinding).
ADDRESS_REASONS = frozenset(
    {
        "metadata",
        "ipv4_mapped",
        "ipv4_tunnel",
        "nat64",
        "loopback",
        "link_local",
        "multicast",
        "unspecified",
        "cgnat",
        "private",
        "reserved",
        "site_local",
        "not_global",
    }
)


class TargetRefused(Exception):
    """The URL or the address it resolves to may not be called; `reason` is a short code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower-case name or IP literal, without brackets
    port: int
    path: str  # path and query


@dataclasses.dataclass(frozen=True)
class AttemptResult:
    """What one attempt saw. `ok` only for a 2xx."""

    ok: bool
    status: int | None
    latency_ms: int
    error: str | None
    response_prefix: str


def address_refusal(address: IPAddress) -> str | None:  # noqa: PLR0911 (one per rule)
    """Why an address may not be called (None: a public unicast address)."""
    if address in METADATA_ADDRESSES:
        return "metadata"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "ipv4_mapped"
        if address.sixtofour is not None or address.teredo is not None:
            return "ipv4_tunnel"
        if address in NAT64 or address in NAT64_LOCAL:
            return "nat64"
    checks = (
        ("loopback", address.is_loopback),
        ("link_local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("cgnat", isinstance(address, ipaddress.IPv4Address) and address in CGNAT),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for reason, refused in checks:
        if refused:
            return reason
    for network, reason in EXTRA_REFUSED:
        if address.version == network.version and address in network:
            return reason
    return None if address.is_global else "not_global"


def _local_exception(host: str) -> bool:
    return get_settings().stage == LOCAL_STAGE and host in LOCAL_HOSTS


def check_url(url: str) -> Target:
    """The parsed target, or TargetRefused (no DNS here: resolution happens at every attempt)."""
    if len(url) > MAX_URL_LENGTH or not url.isascii() or any(c.isspace() for c in url):
        raise TargetRefused("malformed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("malformed") from None
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise TargetRefused("malformed")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials_in_url")
    if parts.fragment:
        raise TargetRefused("fragment")
    local = _local_exception(host)
    if not local:  # the address first: it is the refusal that matters (and is reported)
        if host == "localhost" or host.endswith(".localhost"):
            raise TargetRefused("loopback")
        literal = _ip_literal(host)
        if literal is not None:
            reason = address_refusal(literal)
            if reason:
                raise TargetRefused(reason)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (local and scheme == "http"):
        raise TargetRefused("scheme")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(target: Target) -> str:
    """The one address to connect to: the name resolved once; every address it resolves to
    must be allowed (one internal answer refuses the name)."""
    if _local_exception(target.host):
        return LOCAL_HOSTS[target.host]
    literal = _ip_literal(target.host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise TargetRefused("dns") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise TargetRefused("dns")
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise TargetRefused(reason)
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a pinned address; `Host` still names the target."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a pinned address, with SNI and certificate check against the target's name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except Exception:
            raw.close()
            raise


def send(url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:  # noqa: PLR0911
    """POST `body` to `url` through the checks above; never raises for a network outcome."""
    settings = get_settings()
    started = time.monotonic()

    def result(status: int | None, error: str | None, prefix: str = "") -> AttemptResult:
        latency = int((time.monotonic() - started) * 1000)
        ok = error is None and status is not None and 200 <= status < 300
        return AttemptResult(ok, status, latency, error, prefix)

    try:
        target = check_url(url)
        address = resolve(target)
    except TargetRefused as refused:
        return result(None, f"refused: {refused.reason}")
    timeout = float(settings.webhook_timeout_seconds)
    connection_class: Any = (
        _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    )
    connection = connection_class(target.host, target.port, address, timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Connection": "close",
            },
        )
        response = connection.getresponse()
        raw = response.read(settings.webhook_response_prefix_bytes)
        prefix = raw.decode("utf-8", "replace")
        status = response.status
    except TimeoutError:
        return result(None, "timeout")
    except ssl.SSLError:
        return result(None, "tls_error")
    except (OSError, http.client.HTTPException) as error:
        return result(None, f"connection_error: {type(error).__name__}")
    finally:
        connection.close()
    if 300 <= status < 400:
        return result(status, "redirect_not_followed", prefix)
    if not 200 <= status < 300:
        return result(status, f"http_{status}", prefix)
    return result(status, None, prefix)
