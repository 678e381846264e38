"""A realistic audit history for an organization, written through the real write path.

Each entry is the one a product call writes (its action name, target type and before/after
shape, as in the tickets, attachments, scanning, identity and API-token services), so filters and
verification run over records like the ones production stores. The last step is a real call: the
containment revocation of the requester's credentials.
"""

from __future__ import annotations

from typing import Any

from chalicelib.attachments.scanning.pipeline import SCANNER_ACTOR
from chalicelib.audit import trail as audit
from chalicelib.identity.revocation import revoke_all_for_user
from devstack.audit_stream import drain

# make_org creates three users; each creation is audited (user.create) before any scenario runs.
ORG_SETUP_RECORDS = 3


def chain_all(*, sweep: bool = False) -> None:
    """Deliver the audit table's stream to the chainer until it has caught up (and optionally
    run the checkpoint sweep), as the event source mapping and the schedule do in AWS."""
    import app as app_module

    drain(app_module.app, sweep_checkpoints=sweep)


def audit_scenario(org: Any, *, chained: bool = True) -> list[audit.AuditRecordModel]:
    """A ticket's life (create, status change, internal note, an attachment requested, scanned and
    deleted), a role change, an API token created and revoked, and a credential revocation;
    chained (the chainer caught up) unless `chained=False`. Returns the records as stored."""
    o, admin, agent, requester = org.id, org.admin.id, org.agent.id, org.requester.id
    token = {"prefix": "dg_tok1", "scopes": ["tickets:read"], "expires": 1767225600}
    entries = [
        audit.AuditEntry(
            o,
            requester,
            "ticket.create",
            "ticket",
            "t1",
            None,
            {"status": "OPEN", "priority": "HIGH", "tags": []},
        ),
        audit.AuditEntry(
            o,
            agent,
            "ticket.status_change",
            "ticket",
            "t1",
            {"status": "OPEN"},
            {"status": "PENDING"},
        ),
        audit.AuditEntry(
            o,
            agent,
            "comment.internal_note",
            "comment",
            "c1",
            None,
            {"ticketId": "t1", "internal": True},
        ),
        audit.AuditEntry(
            o,
            requester,
            "attachment.upload_requested",
            "attachment",
            "a1",
            None,
            {
                "ticketId": "t1",
                "contentType": "application/pdf",
                "size": 2048,
                "status": "PENDING_SCAN",
            },
        ),
        audit.AuditEntry(
            o,
            SCANNER_ACTOR,
            "attachment.scan_result",
            "attachment",
            "a1",
            {"status": "PENDING_SCAN"},
            {"status": "CLEAN", "signature": None, "reason": None},
        ),
        audit.AuditEntry(
            o,
            admin,
            "user.update",
            "user",
            agent,
            {"role": "AGENT", "active": True},
            {"role": "ADMIN", "active": True},
        ),
        audit.AuditEntry(o, admin, "api_token.create", "api_token", "tok1", None, token),
        audit.AuditEntry(o, admin, "api_token.revoke", "api_token", "tok1", None, token),
        audit.AuditEntry(
            o,
            agent,
            "attachment.deleted",
            "attachment",
            "a1",
            {"ticketId": "t1", "status": "CLEAN"},
            None,
        ),
    ]
    written = [audit.transact(entry) for entry in entries]
    revoke_all_for_user(o, requester, "admin:test-scenario", actor_id="system:containment")
    if chained:
        chain_all()
    return [audit.AuditRecordModel.get(r.pk, r.sk, consistent_read=True) for r in written]
