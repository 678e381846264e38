"""A realistic audit history for an organization, written through the real write path."""

from __future__ import annotations

from typing import Any

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
    """Ticket, comment, attachment, role, token and settings changes, and a revocation; chained
    (the chainer caught up) unless `chained=False`. Returns the records as stored."""
    o, admin, agent, requester = org.id, org.admin.id, org.agent.id, org.requester.id
    entries = [
        audit.AuditEntry(o, requester, "ticket.create", "ticket", "t1", None, {"priority": "HIGH"}),
        audit.AuditEntry(
            o, agent, "ticket.update", "ticket", "t1", {"status": "OPEN"}, {"status": "PENDING"}
        ),
        audit.AuditEntry(
            o, agent, "comment.create", "comment", "c1", None, {"ticketId": "t1", "internal": True}
        ),
        audit.AuditEntry(
            o, requester, "attachment.upload", "attachment", "a1", None, {"size": 2048}
        ),
        audit.AuditEntry(
            o,
            "system:scanner",
            "attachment.scan",
            "attachment",
            "a1",
            {"status": "PENDING_SCAN"},
            {"status": "CLEAN"},
        ),
        audit.AuditEntry(
            o, admin, "user.role_change", "user", agent, {"role": "AGENT"}, {"role": "ADMIN"}
        ),
        audit.AuditEntry(
            o, admin, "token.create", "token", "tok1", None, {"scopes": ["tickets:read"]}
        ),
        audit.AuditEntry(
            o, admin, "settings.update", "settings", o, {"maxUploadMb": 10}, {"maxUploadMb": 20}
        ),
        audit.AuditEntry(
            o, agent, "attachment.delete", "attachment", "a1", {"status": "CLEAN"}, None
        ),
    ]
    written = [audit.transact(entry) for entry in entries]
    revoke_all_for_user(o, requester, "admin:test-scenario", actor_id="system:containment")
    if chained:
        chain_all()
    return [audit.AuditRecordModel.get(r.pk, r.sk, consistent_read=True) for r in written]
