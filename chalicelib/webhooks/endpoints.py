"""Webhook endpoints: register, list, read, change, delete, rotate the secret. ADMIN routes.

Every change is audited in its own transaction (`audit.transact`); the audit record names the
endpoint and what changed, never a secret. Endpoints live under the organization's partition,
so another organization's endpoint cannot be addressed: its id is a 404 like a missing one.
A secret is returned by `create_endpoint` and `rotate_secret` only (shown once).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.authz.principal import Principal
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.security_events import emit
from chalicelib.webhooks import signing, transport
from chalicelib.webhooks.events import EVENT_TYPES
from chalicelib.webhooks.models import ENDPOINT_PREFIX, EndpointModel, endpoint_sk

ENDPOINT_ID = re.compile(r"[0-9a-f]{16}")


@dataclasses.dataclass(frozen=True)
class IssuedSecret:
    """An endpoint with its new secret (shown once)."""

    secret: str
    item: EndpointModel


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def check_target(url: str) -> str:
    """The URL if it may be registered, else a 400 naming why (no DNS lookup here: every
    attempt resolves and checks the name again)."""
    try:
        transport.check_url(url)
    except transport.TargetRefused as refused:
        if refused.reason in transport.ADDRESS_REASONS:
            emit(
                "security.suspicious_activity",
                reason="webhook_target_refused",
                kind=refused.reason,
                target_type="webhook",
            )
        raise ValidationFailed(
            "The URL cannot be a webhook target.",
            details=[{"field": "url", "message": f"refused ({refused.reason})"}],
        ) from None
    return url


def check_events(events: Sequence[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise ValidationFailed(
            "Unknown or missing event types.",
            details=[{"field": "events", "message": f"allowed: {' '.join(EVENT_TYPES)}"}],
        )
    return [kind for kind in EVENT_TYPES if kind in set(events)]


def _entry(
    principal: Principal,
    action: str,
    item: EndpointModel,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> AuditEntry:
    return AuditEntry(
        organization_id=item.organization_id,
        actor_id=principal.user_id,
        action=action,
        target_type="webhook",
        target_id=item.endpoint_id,
        before=before,
        after=after,
    )


def _summary(item: EndpointModel) -> dict[str, object]:
    return {"url": item.url, "events": list(item.events), "active": bool(item.active)}


def get_endpoint(organization_id: str, endpoint_id: str) -> EndpointModel:
    """An endpoint of the organization, or NotFound (malformed, missing, another org's)."""
    if not ENDPOINT_ID.fullmatch(endpoint_id):
        raise NotFound()
    try:
        return EndpointModel.get(
            org_pk(organization_id), endpoint_sk(endpoint_id), consistent_read=True
        )
    except DoesNotExist:
        raise NotFound() from None


def list_endpoints(
    organization_id: str, *, limit: int = cursors.DEFAULT_LIMIT, cursor: str | None = None
) -> Page[EndpointModel]:
    return cursors.query_page(
        EndpointModel,
        organization_id,
        "webhooks",
        EndpointModel.sk.startswith(ENDPOINT_PREFIX),
        limit=limit,
        cursor=cursor,
    )


def all_endpoints(organization_id: str) -> list[EndpointModel]:
    """Every endpoint of the organization (bounded by `webhook_max_endpoints`)."""
    return list(
        EndpointModel.query(org_pk(organization_id), EndpointModel.sk.startswith(ENDPOINT_PREFIX))
    )


def create_endpoint(
    principal: Principal, *, url: str, events: Sequence[str], active: bool = True
) -> IssuedSecret:
    org = principal.organization_id
    url = check_target(url)
    wanted = check_events(events)
    if len(all_endpoints(org)) >= get_settings().webhook_max_endpoints:
        raise Conflict("The organization has as many webhook endpoints as it may have.")
    now = _now_iso()
    endpoint_id = secrets.token_hex(8)
    secret = signing.new_secret()
    item = EndpointModel(
        org_pk(org),
        endpoint_sk(endpoint_id),
        endpoint_id=endpoint_id,
        organization_id=org,
        url=url,
        events=wanted,
        active=active,
        secret=secret,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    transact(
        _entry(principal, "webhook.create", item, after=_summary(item)),
        lambda tx: tx.save(item, condition=EndpointModel.pk.does_not_exist()),
    )
    return IssuedSecret(secret, item)


def update_endpoint(
    principal: Principal,
    endpoint_id: str,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    active: bool | None = None,
) -> EndpointModel:
    """Change the URL, the events or the active switch (audited)."""
    if url is None and events is None and active is None:
        raise ValidationFailed("Nothing to change: send url, events or active.")
    item = get_endpoint(principal.organization_id, endpoint_id)
    before = _summary(item)
    actions: list[Any] = [EndpointModel.updated_at.set(_now_iso())]
    if url is not None:
        item.url = check_target(url)
        actions.append(EndpointModel.url.set(item.url))
    if events is not None:
        item.events = check_events(events)
        actions.append(EndpointModel.events.set(item.events))
    if active is not None:
        item.active = active
        actions.append(EndpointModel.active.set(active))
    after = _summary(item)
    if after == before:
        return item
    try:
        transact(
            _entry(principal, "webhook.update", item, before=before, after=after),
            lambda tx: tx.update(item, actions=actions, condition=EndpointModel.pk.exists()),
        )
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise NotFound() from None
        raise
    return get_endpoint(principal.organization_id, endpoint_id)


def delete_endpoint(principal: Principal, endpoint_id: str) -> None:
    """Delete the endpoint (audited); its pending deliveries fail at their next attempt."""
    item = get_endpoint(principal.organization_id, endpoint_id)
    try:
        transact(
            _entry(principal, "webhook.delete", item, before=_summary(item)),
            lambda tx: tx.delete(item, condition=EndpointModel.pk.exists()),
        )
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise NotFound() from None
        raise


def rotate_secret(principal: Principal, endpoint_id: str) -> IssuedSecret:
    """A new secret; the current one keeps signing (a second v1) for the grace period."""
    item = get_endpoint(principal.organization_id, endpoint_id)
    old = item.secret
    grace_until = int(time.time()) + get_settings().webhook_secret_grace_seconds
    new = signing.new_secret()
    now = _now_iso()
    actions: list[Any] = [
        EndpointModel.secret.set(new),
        EndpointModel.previous_secret.set(old),
        EndpointModel.previous_until.set(grace_until),
        EndpointModel.secret_rotated_at.set(now),
        EndpointModel.updated_at.set(now),
    ]
    entry = _entry(principal, "webhook.rotate_secret", item, after={"graceUntil": grace_until})
    try:
        transact(
            entry,
            lambda tx: tx.update(item, actions=actions, condition=EndpointModel.secret == old),
        )
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise Conflict("The secret was rotated meanwhile; reload and retry.") from None
        raise
    return IssuedSecret(new, get_endpoint(principal.organization_id, endpoint_id))


def secrets_in_force(item: EndpointModel, now: float | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one while
    its grace period lasts."""
    current = time.time() if now is None else now
    valid = [item.secret]
    if item.previous_secret and item.previous_until and current < int(item.previous_until):
        valid.append(item.previous_secret)
    return valid
