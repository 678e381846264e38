"""The per-attachment rules: which attachment may be downloaded, and who may delete which one.

The expected tables are written out here, so changing a rule fails a test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.attachments import policy
from chalicelib.attachments.models import AttachmentItem
from chalicelib.authz.principal import Principal, Role
from chalicelib.core.errors import Conflict, Forbidden

UPLOADER = Principal(user_id="req-1", organization_id="acme", role=Role.REQUESTER)
OTHER_REQUESTER = Principal(user_id="req-2", organization_id="acme", role=Role.REQUESTER)
AGENT = Principal(user_id="agent-1", organization_id="acme", role=Role.AGENT)
ADMIN = Principal(user_id="admin-1", organization_id="acme", role=Role.ADMIN)


def _attachment(
    *, status: str = "CLEAN", sniffed_type: str | None = "image/png", uploader_id: str = "req-1"
) -> AttachmentItem:
    return AttachmentItem(
        "ORG#acme", "TICKET#t#ATTACHMENT#a", attachment_id="a", organization_id="acme",
        ticket_id="t", uploader_id=uploader_id, filename="a.png", declared_type="image/png",
        declared_size=10, s3_key="k", status=status, sniffed_type=sniffed_type,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.parametrize(
    "status,sniffed_type,downloadable",
    [
        ("CLEAN", "image/png", True),
        ("CLEAN", None, False),  # never served without a sniffed type
        ("PENDING_SCAN", "image/png", False),
        ("INFECTED", "image/png", False),
        ("REJECTED", "image/png", False),
        ("ERROR", None, False),
    ],
)
def test_only_clean_scanned_attachments_are_downloadable(
    status: str, sniffed_type: str | None, downloadable: bool
) -> None:
    attachment = _attachment(status=status, sniffed_type=sniffed_type)
    assert policy.is_downloadable(attachment) is downloadable
    if downloadable:
        policy.check_download(attachment)
    else:
        with pytest.raises(Conflict) as refused:
            policy.check_download(attachment)
        assert refused.value.message == f"The attachment cannot be downloaded (status {status})."
        assert refused.value.details == [{"field": "status", "message": status}]


@pytest.mark.parametrize(
    "principal,uploader_id,allowed",
    [
        (UPLOADER, "req-1", True),  # a requester deletes their own upload
        (OTHER_REQUESTER, "req-1", False),  # but not another user's
        (UPLOADER, "agent-1", False),  # nor staff's
        (AGENT, "req-1", True),  # staff delete any attachment of a ticket they see
        (ADMIN, "req-1", True),
        (AGENT, "admin-1", True),
    ],
)
def test_who_may_delete_which_attachment(
    principal: Principal, uploader_id: str, allowed: bool
) -> None:
    attachment = _attachment(uploader_id=uploader_id)
    assert policy.may_delete(principal, attachment) is allowed
    if allowed:
        policy.check_delete(principal, attachment)
    else:
        with pytest.raises(Forbidden, match="Only staff or the uploader may delete an attachment"):
            policy.check_delete(principal, attachment)
