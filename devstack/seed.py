"""Demo data for the local stack: two organizations with one user of each role, one customer who
is a requester of both (the same e-mail, a separate account and password in each), and in each a
few tickets with comments (one internal note) and a text attachment.

Everything goes through the same services the API calls (so the audit trail has the records and
the list indexes are right); the attachment's bytes are put into the uploads bucket exactly as the
presigned POST would store them, and the S3 event pump scans them like any upload.
"""

from __future__ import annotations

import secrets
from typing import Any

import boto3

from chalicelib.attachments import service as attachments
from chalicelib.authz.principal import Principal, Role
from chalicelib.core.settings import get_settings
from chalicelib.identity import users
from chalicelib.tickets import service as tickets
from chalicelib.tickets.schemas import CreateComment, CreateTicket

DEMO_ORGANIZATIONS = (("acme", "Acme Corporation"), ("globex", "Globex Corporation"))
# A customer of both demo organizations: identities belong to an organization, so the same
# address is two accounts, and the login body's `organization` picks one.
SHARED_CUSTOMER = ("pat@customer.example", "Pat Customer")

# (subject, Markdown body, priority, tags, opened by): the requester's and the agent's tickets.
DEMO_TICKETS = (
    (
        "Cannot log in to the billing portal",
        "Since this morning the portal answers **Invalid session** right after login.\n\n"
        "- Browser: Firefox 128\n- Tried: clearing cookies",
        "HIGH",
        ["billing", "login"],
        Role.REQUESTER,
    ),
    (
        "Request: export of last quarter's invoices",
        "Could we get the Q3 invoices as CSV? Our auditors need them by Friday.",
        "NORMAL",
        ["billing"],
        Role.REQUESTER,
    ),
    (
        "Printer on floor 3 jams on duplex",
        "Reported by phone; duplex printing jams after the first sheet.",
        "LOW",
        ["hardware"],
        Role.AGENT,
    ),
)
DEMO_ATTACHMENT = b"2026-12-01T08:02:11Z login ok\n2026-12-01T08:02:12Z session invalid\n"


def _principal(user: users.User) -> Principal:
    return Principal(user_id=user.id, organization_id=user.organization_id, role=user.role)


def _upload(grant: attachments.UploadGrant, content: bytes, content_type: str) -> None:
    """Store the bytes as the presigned POST would (content type, SSE), key from the grant."""
    settings = get_settings()
    boto3.client("s3", region_name=settings.region).put_object(
        Bucket=settings.uploads_bucket,
        Key=grant.fields["key"],
        Body=content,
        ContentType=content_type,
        ServerSideEncryption=settings.attachment_upload_sse,
    )


def _seed_tickets(members: dict[Role, users.User]) -> list[dict[str, Any]]:
    requester, agent = _principal(members[Role.REQUESTER]), _principal(members[Role.AGENT])
    opened: list[dict[str, Any]] = []
    for subject, body, priority, tags, role in DEMO_TICKETS:
        author = requester if role is Role.REQUESTER else agent
        data = CreateTicket.model_validate(
            {"subject": subject, "body": body, "priority": priority, "tags": tags}
        )
        ticket = tickets.create_ticket(author, data)
        opened.append({"id": ticket.id, "subject": subject, "comments": 0, "attachments": 0})
    first = opened[0]
    for principal, text, internal in (
        (agent, "Thanks, looking into it. Which account number is affected?", False),
        (requester, "Account 4711. The attached log shows the failing session.", False),
        (agent, "Session store was flushed at 08:00; likely cause. Check with ops.", True),
    ):
        tickets.add_comment(principal, first["id"], CreateComment(body=text, internal=internal))
        first["comments"] += 1
    grant = attachments.create_upload(
        requester,
        first["id"],
        filename="portal-login.log.txt",
        content_type="text/plain",
        size=len(DEMO_ATTACHMENT),
    )
    _upload(grant, DEMO_ATTACHMENT, "text/plain")
    first["attachments"] += 1
    return opened


def seed_demo() -> list[dict[str, Any]]:
    """Create the demo organizations, users (fresh passwords), tickets, comments and one
    attachment per organization; returns what was created (the credentials file's content)."""
    created: list[dict[str, Any]] = []
    for org_id, org_name in DEMO_ORGANIZATIONS:
        users.create_organization(org_id, org_name)
        org_users = []
        members: dict[Role, users.User] = {}
        for role in (Role.ADMIN, Role.AGENT, Role.REQUESTER):
            email = f"{role.value.lower()}@{org_id}.example"
            password = secrets.token_urlsafe(15)
            members[role] = users.create_user(
                org_id,
                email=email,
                name=f"{org_name.split()[0]} {role.value.title()}",
                role=role,
                password=password,
            )
            org_users.append(
                {"organization": org_id, "email": email, "password": password, "role": role.value}
            )
        email, name = SHARED_CUSTOMER
        password = secrets.token_urlsafe(15)
        users.create_user(org_id, email=email, name=name, role=Role.REQUESTER, password=password)
        org_users.append(
            {"organization": org_id, "email": email, "password": password, "role": "REQUESTER"}
        )
        demo_tickets = _seed_tickets(members)
        created.append(
            {"id": org_id, "name": org_name, "users": org_users, "tickets": demo_tickets}
        )
    return created
