"""Real objects for routes whose paths name one: a ticket, a scanned attachment, an API token,
a user. The authorization matrix and the fuzzer build every path parameter through these makers.

OBJECT_MAKERS is keyed by the path up to the parameter, so a new object-bearing route needs one
line here; a path parameter without a maker fails the test that meets it.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.attachments import service as attachment_service
from chalicelib.attachments import storage
from chalicelib.attachments.models import AttachmentItem, AttachmentStatus, attachment_sk
from chalicelib.authz.principal import Principal, Role
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings, override
from chalicelib.identity import api_tokens, flags
from chalicelib.intake import service as intake
from chalicelib.intake.models import message_hash
from chalicelib.mail.addresses import support_address
from chalicelib.tickets import groups
from chalicelib.webhooks import delivery as webhook_delivery_module
from chalicelib.webhooks import endpoints as webhook_endpoints
from chalicelib.webhooks import events as webhook_events
from tests.support import mail_corpus
from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import create_ticket

PATH_PARAMETER = re.compile(r"{([^}]+)}")
_unique = itertools.count(1)


def principal(user: TestUser) -> Principal:
    return Principal(user_id=user.id, organization_id=user.organization_id, role=user.role)


def ticket(client: Any, org: TestOrg, params: dict[str, str]) -> str:
    """A ticket of the organization's requester (so every role of the organization sees it)."""
    made = create_ticket(
        client, org.requester, subject="Matrix ticket", body="Made for the authorization matrix."
    )
    return str(made["id"])


def clean_attachment(client: Any, org: TestOrg, params: dict[str, str]) -> str:
    """An attachment the requester uploaded, stored and scanned CLEAN (so download redirects and
    the requester may delete it)."""
    grant = attachment_service.create_upload(
        principal(org.requester),
        params["ticket_id"],
        filename="notes.txt",
        content_type="text/plain",
        size=5,
    )
    key = grant.fields["key"]
    put = storage.s3().put_object(Bucket=get_settings().uploads_bucket, Key=key, Body=b"hello")
    record = AttachmentItem.get(
        org_pk(org.id), attachment_sk(params["ticket_id"], grant.attachment.id)
    )
    record.update(
        actions=[
            AttachmentItem.status.set(AttachmentStatus.CLEAN.value),
            AttachmentItem.sniffed_type.set("text/plain"),
            AttachmentItem.version_id.set(put.get("VersionId") or "null"),
            AttachmentItem.size.set(5),
        ]
    )
    return grant.attachment.id


def api_token(client: Any, org: TestOrg, params: dict[str, str]) -> str:
    """An active API token of the organization's admin."""
    issued = api_tokens.create_token(
        principal(org.admin), name="matrix target", scopes=["tickets:read"], expires_in_days=30
    )
    return str(issued.item.token_id)


def security_flag(client: Any, org: TestOrg, params: dict[str, str]) -> str:
    """An open flag of a contained session of a new agent of the organization."""
    user = org.add_user(Role.AGENT)
    flags.raise_flag(
        org.id,
        user_id=user.id,
        subject_type="session",
        subject_id=f"matrix-{next(_unique)}",
        kind="cross_org",
        signals=10,
    )
    items = flags.list_flags(org.id, actor_id=org.admin.id, limit=100, cursor=None).items
    return str(next(item.flag_id for item in items if item.user_id == user.id))


def group(client: Any, org: TestOrg, params: dict[str, str]) -> str:
    """An active agent group of the organization with its agent as the member."""
    made = groups.create_group(
        principal(org.admin), name=f"Matrix group {next(_unique)}", description=""
    )
    groups.set_members(principal(org.admin), made.group_id, [org.agent.id], if_match=None)
    return str(made.group_id)


def webhook(client: Any, org: TestOrg, params: dict[str, str]) -> str:
    """An active endpoint of the organization (never called: nothing pumps in the matrix).
    The matrix makes one per write case, more than an organization may register."""
    with override(webhook_max_endpoints=10_000):
        issued = webhook_endpoints.create_endpoint(
            principal(org.admin), url="https://hooks.example.com/matrix", events=["ticket.created"]
        )
    return str(issued.item.endpoint_id)


def webhook_delivery(client: Any, org: TestOrg, params: dict[str, str]) -> str:
    """A finished delivery of the endpoint (as the delivery function leaves one)."""
    endpoint_id = params["webhook_id"]
    event_id = webhook_events.new_event_id()
    made = webhook_delivery_module._new_delivery(
        event_id,
        "ticket.created",
        org.id,
        endpoint_id,
        webhook_events.delivery_body(event_id, "ticket.created", org.id, "2026-01-01", {}),
        delivery_id=webhook_delivery_module.delivery_id_for(event_id, endpoint_id),
        at=time.time(),
    )
    made.status, made.due, made.due_at, made.attempts = "SUCCEEDED", None, None, 1
    made.save()
    return str(made.delivery_id)


def quarantined_mail(client: Any, org: TestOrg, params: dict[str, str]) -> str:
    """A message to the organization that SES judged spam: held in its quarantine."""
    msg_id = mail_corpus.message_id()
    raw = mail_corpus.plain(
        "sender@customer.example",
        support_address(org.id),
        msg_id=msg_id,
        headers={"X-SES-Spam-Verdict": "FAIL"},
    )
    assert intake.ingest(raw).status == "QUARANTINED"
    return message_hash(msg_id)


# Path prefix ending in a parameter -> a function making that object in `org` and returning the
# value for the parameter. `params` holds the values of the parameters before it in the path.
ObjectMaker = Callable[[Any, TestOrg, dict[str, str]], str]
OBJECT_MAKERS: dict[str, ObjectMaker] = {
    "/api/admin/users/{user_id}": lambda client, org, params: org.add_user(Role.REQUESTER).id,
    "/api/users/{user_id}": lambda client, org, params: org.add_user(Role.REQUESTER).id,
    "/api/admin/security/flags/{flag_id}": security_flag,
    "/api/admin/tokens/{token_id}": api_token,
    "/api/admin/groups/{group_id}": group,
    "/api/admin/webhooks/{webhook_id}": webhook,
    "/api/admin/mail/quarantine/{mail_id}": quarantined_mail,
    "/api/admin/webhooks/{webhook_id}/deliveries/{delivery_id}": webhook_delivery,
    "/api/tickets/{ticket_id}": ticket,
    "/api/tickets/{ticket_id}/attachments/{attachment_id}": clean_attachment,
}


def make_objects(client: Any, org: TestOrg, path: str) -> dict[str, str]:
    """Values for the path's parameters, each object made in `org` by its registered maker."""
    params: dict[str, str] = {}
    for match in PATH_PARAMETER.finditer(path):
        prefix = path[: match.end()]
        maker = OBJECT_MAKERS.get(prefix)
        if maker is None:
            pytest.fail(f"no fixture maker for {prefix!r}: register one in OBJECT_MAKERS")
        params[match.group(1)] = maker(client, org, dict(params))
    return params
