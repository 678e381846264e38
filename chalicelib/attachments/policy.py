"""Who may do what with a ticket's attachments, once the route table has let the caller in.

An attachment is reachable exactly when its ticket is: uploading, listing, reading and downloading
are open to whoever sees the ticket (`chalicelib.tickets.policy.can_see`, applied by
`get_visible_ticket`, with which every attachment service starts; an unseen ticket is NotFound), and
records are read from that ticket's key in the caller's organization, so no other attachment can be
named. This module owns the rules on the attachment itself: only a CLEAN scanned version is ever
handed out, and deleting is for staff or the uploader.
"""

from __future__ import annotations

from chalicelib.attachments.models import AttachmentItem, AttachmentStatus
from chalicelib.authz.principal import Principal
from chalicelib.core.errors import Conflict, Forbidden


def is_downloadable(attachment: AttachmentItem) -> bool:
    """Only a scanned, CLEAN attachment with a sniffed type is ever served."""
    return attachment.status == AttachmentStatus.CLEAN.value and bool(attachment.sniffed_type)


def check_download(attachment: AttachmentItem) -> None:
    """Conflict (409, naming the status) unless the attachment may be downloaded."""
    if not is_downloadable(attachment):
        raise Conflict(
            f"The attachment cannot be downloaded (status {attachment.status}).",
            details=[{"field": "status", "message": attachment.status}],
        )


def may_delete(principal: Principal, attachment: AttachmentItem) -> bool:
    """Staff may delete any attachment of a ticket they see; a requester only their own uploads."""
    return principal.is_staff or attachment.uploader_id == principal.user_id


def check_delete(principal: Principal, attachment: AttachmentItem) -> None:
    if not may_delete(principal, attachment):
        raise Forbidden("Only staff or the uploader may delete an attachment.")
