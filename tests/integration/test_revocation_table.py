"""The revocations table: TTL enabled, items expire with the credential they deny."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.audit import trail as audit
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity.revocation import (
    RevocationItem,
    RevokedSessionModel,
    UserRevocationModel,
    revoke_all_for_user,
)
from tests.support.tokens import claims_of


def test_ttl_is_enabled_on_expires_at(client: Any) -> None:
    ddb = boto3.client("dynamodb", region_name=get_settings().region)
    ttl = ddb.describe_time_to_live(TableName=RevocationItem.Meta.table_name)
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_logout_item_expires_with_the_token(client: Any, make_org: Any) -> None:
    org = make_org()
    exp = claims_of(org.agent.token)["exp"]
    assert client.post("/api/auth/logout", token=org.agent.token).status == 204
    items = list(RevokedSessionModel.query(f"ORG#{org.id}"))
    assert len(items) == 1 and items[0].sk == f"JTI#{claims_of(org.agent.token)['jti']}"
    assert int(items[0].expires_at.timestamp()) == exp + 60


def test_revoke_all_is_audited_and_outlives_every_credential(client: Any, make_org: Any) -> None:
    org = make_org()
    revoke_all_for_user(org.id, org.agent.id, "stolen laptop")
    marker = UserRevocationModel.get(f"ORG#{org.id}", f"USER#{org.agent.id}")
    settings = get_settings()
    lifetime = int(marker.expires_at.timestamp()) - marker.revoked_before_ms // 1000
    assert lifetime >= max(settings.session_ttl_seconds, settings.api_token_max_days * 86400)
    assert marker.reason == "stolen laptop"
    records = list(audit.AuditRecordModel.query(org_pk(org.id)))
    revoke = [r for r in records if r.action == "user.revoke_all_credentials"]
    assert len(revoke) == 1 and revoke[0].target_id == org.agent.id
