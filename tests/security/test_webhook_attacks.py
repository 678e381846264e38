"""Attacks through webhooks: server-side request forgery (internal ranges, DNS names that point
inside, redirects to the metadata service, rebinding), forged or replayed signatures, another
organization's endpoints, and secrets leaking into logs."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.settings import override
from chalicelib.webhooks import signing, transport
from tests.support.assertions import assert_error
from tests.support.logcheck import events_since, lines_since
from tests.support.tickets import create_ticket
from tests.support.webhooks import deliveries, local_receiver, pump, register

ROOT = Path(__file__).resolve().parents[2]

REFUSED = {
    # IPv4
    "10.0.0.1": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "127.0.0.1": "loopback",
    "127.255.255.254": "loopback",
    "169.254.1.1": "link_local",
    "169.254.169.254": "metadata",
    "100.64.0.1": "cgnat",
    "100.127.255.254": "cgnat",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "0.0.0.0": "unspecified",  # noqa: S104 (an address under test, not a bind)
    "192.0.0.8": "reserved",
    "198.18.0.1": "private",
    # IPv6
    "::1": "loopback",
    "fe80::1": "link_local",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fd00:ec2::254": "metadata",
    "::ffff:127.0.0.1": "ipv4_mapped",
    "::ffff:169.254.169.254": "ipv4_mapped",
    "::ffff:10.0.0.1": "ipv4_mapped",
    "ff02::1": "multicast",
    "::": "unspecified",
    "2002:7f00:1::": "ipv4_tunnel",
    "2001::1": "ipv4_tunnel",
    "64:ff9b::a9fe:a9fe": "nat64",
    "fec0::1": "site_local",
}
RESERVED_ANY_REASON = ["240.0.0.1", "255.255.255.255", "192.0.2.1", "2001:db8::1", "100::1"]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700::1111"]


@pytest.mark.parametrize(("address", "reason"), sorted(REFUSED.items()))
def test_every_internal_range_is_refused(address: str, reason: str) -> None:
    assert transport.address_refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", RESERVED_ANY_REASON)
def test_reserved_and_documentation_ranges_are_refused(address: str) -> None:
    assert transport.address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert transport.address_refusal(ipaddress.ip_address(address)) is None


class Network:
    """Stands in for DNS and the socket layer of `transport`: no packet leaves the process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []
        real_connect, real_getaddrinfo = socket.create_connection, socket.getaddrinfo

        def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
            if host == "127.0.0.1":  # the real connect to the test's own receiver
                return real_getaddrinfo(host, port, *args, **kwargs)
            self.lookups.append(host)
            if host not in self.answers:
                raise socket.gaierror("no such name")
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in self.answers[host]
            ]

        def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
            self.connects.append(address)
            if address[0] == "127.0.0.1":
                return real_connect(address, *args, **kwargs)  # the test's own receiver
            raise ConnectionRefusedError("no network in tests")

        monkeypatch.setattr(transport.socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(transport.socket, "create_connection", create_connection)


@pytest.mark.parametrize("address", sorted(REFUSED))
def test_an_attempt_never_connects_to_an_internal_address(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    """A name resolving to the address, and the address as a literal: refused before connect."""
    network = Network(monkeypatch, {"hooks.attacker.example": [address]})
    literal = f"[{address}]" if ":" in address else address
    for url in ("https://hooks.attacker.example/x", f"https://{literal}/x"):
        result = transport.send(url, b"{}", {})
        assert not result.ok and result.error == f"refused: {REFUSED[address]}", url
    assert network.connects == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "017700000001"])
def test_numeric_host_spellings_of_loopback_are_refused(host: str) -> None:
    """Spellings `ipaddress` does not parse but the resolver turns into 127.0.0.1 (no DNS query:
    the C library parses them as numbers) are checked as the address they resolve to."""
    with pytest.raises(ValueError):
        ipaddress.ip_address(host)
    result = transport.send(f"https://{host}/x", b"{}", {})
    assert result.error == "refused: loopback"


def test_one_internal_answer_among_public_ones_refuses_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = Network(monkeypatch, {"mixed.attacker.example": ["93.184.216.34", "10.0.0.7"]})
    result = transport.send("https://mixed.attacker.example/x", b"{}", {})
    assert result.error == "refused: private" and network.connects == []


def test_the_connection_is_pinned_to_the_address_resolved_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS is asked once per attempt and the socket goes to that answer (a rebinding answer
    given later is never asked for)."""
    network = Network(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    result = transport.send("https://hooks.example.com:8443/in", b"{}", {})
    assert network.lookups == ["hooks.example.com"]
    assert network.connects == [("93.184.216.34", 8443)]
    assert result.error == "connection_error: ConnectionRefusedError"


def test_a_dns_name_resolving_to_loopback_is_refused_outside_the_local_stage(
    client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch, log_mark: int
) -> None:
    """The receiver listens on 127.0.0.1, yet a delivery to a name that resolves there never
    reaches it: on the test stage (deployed stages alike) and even on the local stage, where
    only the literal names 127.0.0.1 and localhost are let through."""
    org = make_org()
    with local_receiver() as receiver:
        name = "rebind.attacker.example"
        network = Network(monkeypatch, {name: ["127.0.0.1"]})
        with override(stage="test"):
            hook = register(client, org, f"https://{name}:{receiver.port}/steal")
            create_ticket(client, org.requester)
            pump()
        (logged,) = deliveries(client, org, hook["id"])
        assert logged["error"] == "refused: loopback" and logged["status"] == "PENDING"
        create_ticket(client, org.requester)
        pump()  # the local stage now
        assert receiver.received == [] and network.connects == []
        assert {item["error"] for item in deliveries(client, org, hook["id"])} == {
            "refused: loopback"
        }
    # Each refused attempt is a security event naming the endpoint and the range.
    refused = events_since(log_mark, "security.suspicious_activity")
    assert len(refused) == 2
    for event in refused:
        assert event["reason"] == "webhook_target_refused" and event["kind"] == "loopback"
        assert event["target_id"] == hook["id"] and event["organization_id"] == org.id


def test_a_redirect_to_the_metadata_service_is_not_followed(
    client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org()
    with local_receiver() as receiver:
        network = Network(monkeypatch, {})
        receiver.default_status = 302
        receiver.response_headers = {"Location": "http://169.254.169.254/latest/meta-data/"}
        hook = register(client, org, receiver.url("/redirecting"))
        create_ticket(client, org.requester)
        pump()
        assert len(receiver.received) == 1
        assert network.connects == [("127.0.0.1", receiver.port)]  # nothing else, ever
        (logged,) = deliveries(client, org, hook["id"])
        assert logged["error"] == "redirect_not_followed" and logged["responseStatus"] == 302
        assert logged["status"] == "PENDING"  # a failed attempt, retried later


def test_the_local_stage_still_refuses_metadata_and_private_targets(
    client: Any, make_org: Any, log_mark: int
) -> None:
    org = make_org()
    with override(stage="local"):
        for url in (
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/latest",
            "http://10.0.0.1/x",
            "http://192.168.0.10/x",
            "http://127.0.0.2/x",  # only the literal 127.0.0.1 and localhost
            "http://[::1]/x",
        ):
            response = client.post(
                "/api/admin/webhooks",
                json={"url": url, "events": ["ticket.created"]},
                token=org.admin.token,
            )
            assert_error(response, 400, "VALIDATION_ERROR")
        assert register(client, org, "http://localhost:9/x")["url"] == "http://localhost:9/x"
    kinds = [e["kind"] for e in events_since(log_mark, "security.suspicious_activity")]
    assert kinds == ["metadata", "metadata", "private", "private", "loopback", "loopback"]


def test_localhost_is_delivered_with_its_name_in_the_host_header(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    with local_receiver() as receiver:
        register(client, org, f"http://localhost:{receiver.port}/named")
        create_ticket(client, org.requester)
        pump()
        assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"


def test_a_silent_receiver_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts into the backlog, never answers
    try:
        with override(stage="local", webhook_timeout_seconds=1):
            started = time.monotonic()
            result = transport.send(f"http://127.0.0.1:{listener.getsockname()[1]}/", b"{}", {})
        assert result.error == "timeout" and time.monotonic() - started < 5
    finally:
        listener.close()


# --- Signatures -----------------------------------------------------------------------------

SECRET = "whsec_test-secret-for-signatures"  # pragma: allowlist secret
BODY = b'{"id":"e1","type":"ticket.created"}'


def test_a_valid_signature_verifies_and_a_wrong_secret_does_not() -> None:
    now = int(time.time())
    header = signing.signature_header([SECRET], now, BODY)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert signing.verify(header, BODY, SECRET)
    assert not signing.verify(header, BODY, "whsec_wrong")
    assert not signing.verify(header, BODY + b" ", SECRET)  # the body was changed
    assert not signing.verify(header.replace(f"t={now}", f"t={now + 1}"), BODY, SECRET)


def test_a_stale_or_future_timestamp_is_refused() -> None:
    then = int(time.time()) - 301
    stale = signing.signature_header([SECRET], then, BODY)
    assert not signing.verify(stale, BODY, SECRET)
    assert signing.verify(stale, BODY, SECRET, tolerance_seconds=600)
    future = signing.signature_header([SECRET], int(time.time()) + 301, BODY)
    assert not signing.verify(future, BODY, SECRET)


def test_both_secrets_verify_during_a_rotation_grace_period() -> None:
    new = "whsec_new-secret-after-rotation"  # pragma: allowlist secret
    header = signing.signature_header([new, SECRET], int(time.time()), BODY)
    assert header.count(",v1=") == 2
    assert signing.verify(header, BODY, new) and signing.verify(header, BODY, SECRET)


@pytest.mark.parametrize(
    "header", ["", "v1=abc", "t=,v1=", "t=abc,v1=00", "t=1,v1=" + "0" * 64, "garbage"]
)
def test_malformed_headers_never_verify(header: str) -> None:
    assert not signing.verify(header, BODY, SECRET)


def _docs_snippet() -> dict[str, Any]:
    text = (ROOT / "docs" / "webhooks.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/webhooks.md has no Python snippet"
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], "docs/webhooks.md", "exec"), namespace)  # noqa: S102 (our own doc)
    return namespace


def test_the_documented_snippet_verifies_a_real_delivery(client: Any, make_org: Any) -> None:
    verify = _docs_snippet()["verify_deskguard_signature"]
    org = make_org()
    with local_receiver() as receiver:
        hook = register(client, org, receiver.url())
        create_ticket(client, org.requester)
        pump()
        got = receiver.received[0]
    header = got.headers["x-deskguard-signature"]
    assert verify(hook["secret"], header, got.body) is True
    assert verify("whsec_not-the-secret", header, got.body) is False
    assert verify(hook["secret"], header, got.body.replace(b"ticket", b"tickex")) is False
    timestamp = int(header.split(",")[0][2:])
    assert verify(hook["secret"], header, got.body, now=timestamp + 301) is False
    assert verify(hook["secret"], header, got.body, now=timestamp + 299) is True


# --- Another organization, and the logs -----------------------------------------------------


def test_another_organizations_webhooks_are_404_like_missing_ones(
    client: Any, make_org: Any
) -> None:
    owner, intruder = make_org(), make_org()
    with local_receiver() as receiver:
        hook = register(client, owner, receiver.url())
        create_ticket(client, owner.requester)
        pump()
        (logged,) = deliveries(client, owner, hook["id"])

    def probe(webhook_id: str, delivery_id: str) -> list[tuple[int, bytes]]:
        base = f"/api/admin/webhooks/{webhook_id}"
        calls = [
            ("GET", base, None),
            ("PATCH", base, {"active": False}),
            ("POST", f"{base}/rotate", None),
            ("GET", f"{base}/deliveries", None),
            ("POST", f"{base}/deliveries/{delivery_id}/redeliver", None),
            ("DELETE", base, None),
        ]
        return [
            (r.status, r.body)
            for r in (
                client.request(method, path, json=body, token=intruder.admin.token)
                for method, path, body in calls
            )
        ]

    foreign = probe(hook["id"], logged["id"])
    missing = probe("0" * 16, "0" * 32)
    assert foreign == missing
    assert {status for status, _ in foreign} == {404}
    # The owner's endpoint is untouched: same secret, still active, one delivery.
    one = client.get(f"/api/admin/webhooks/{hook['id']}", token=owner.admin.token)
    assert one.status == 200 and one.json["active"] is True
    assert one.json["secretRotatedAt"] is None
    assert len(deliveries(client, owner, hook["id"])) == 1
    listed = client.get("/api/admin/webhooks", token=intruder.admin.token)
    assert listed.json["items"] == []


def test_no_webhook_secret_reaches_the_logs(client: Any, make_org: Any, log_mark: int) -> None:
    org = make_org()
    with local_receiver() as receiver:
        receiver.statuses = [500]
        hook = register(client, org, receiver.url())
        rotated = client.post(f"/api/admin/webhooks/{hook['id']}/rotate", token=org.admin.token)
        create_ticket(client, org.requester)
        pump()
        (logged,) = deliveries(client, org, hook["id"])
        client.post(
            f"/api/admin/webhooks/{hook['id']}/deliveries/{logged['id']}/redeliver",
            token=org.admin.token,
        )
        pump()
    lines = lines_since(log_mark)
    attempts = [json.loads(line) for line in lines if '"webhook attempt"' in line]
    assert len(attempts) == 2  # the attempts were logged...
    assert {a["outcome"] for a in attempts} == {"retry", "delivered"}
    text = "\n".join(lines)
    for secret in (hook["secret"], rotated.json["secret"]):  # ...without a secret
        assert secret not in text and secret[6:20] not in text
    assert "x-deskguard-signature" not in text.lower()
