"""Someone with write access to the audit table edits it behind the API's back: the chain check
(API and CLI) detects it and names the first broken record."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.audit import trail as audit
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from cli.main import main as cli_main
from tests.support.audit import ORG_SETUP_RECORDS, audit_scenario

LAST = 10 + ORG_SETUP_RECORDS


@pytest.fixture
def table() -> Any:
    dynamodb = boto3.resource("dynamodb", region_name=get_settings().region)
    return dynamodb.Table(get_settings().table_name("audit"))


def _key(org_id: str, seq: int) -> dict[str, str]:
    return {"pk": org_pk(org_id), "sk": audit.seq_sk(seq)}


def _verify(client: Any, org: Any) -> dict[str, Any]:
    response = client.get("/api/admin/audit/verify", token=org.admin.token)
    assert response.status == 200
    return dict(response.json)


def _cli_verify(org_id: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()  # drop what earlier steps printed (EMF metric lines go to stdout)
    code = cli_main(["audit", "verify", "--org", org_id, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _broken(report: dict[str, Any]) -> tuple[int, str]:
    assert report["ok"] is False
    return report["firstBroken"]["seq"], report["firstBroken"]["reason"]


def test_realistic_history_verifies(
    client: Any, make_org: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    org = make_org()
    audit_scenario(org)
    report = _verify(client, org)
    assert report == {
        "organizationId": org.id,
        "ok": True,
        "checked": LAST,
        "headSeq": LAST,
        "firstBroken": None,
    }
    assert _cli_verify(org.id, capsys) == (0, report)


def test_empty_chain_verifies(client: Any, make_org: Any) -> None:
    org = make_org()
    assert _verify(client, org)["ok"] is True


@pytest.mark.parametrize(
    ("attribute", "seq"),
    [("action", 3), ("details", 5), ("at", 1), ("actor_id", LAST), ("hash", 7)],
)
def test_one_changed_byte_is_located(  # noqa: PLR0917
    client: Any,
    make_org: Any,
    table: Any,
    capsys: pytest.CaptureFixture[str],
    attribute: str,
    seq: int,
) -> None:
    org = make_org()
    audit_scenario(org)
    item = table.get_item(Key=_key(org.id, seq))["Item"]
    value = str(item[attribute])
    flipped = value[:-1] + ("0" if value[-1] != "0" else "1")  # one character changed
    table.update_item(
        Key=_key(org.id, seq),
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": flipped},
    )
    assert _broken(_verify(client, org)) == (seq, "hash_mismatch")
    code, report = _cli_verify(org.id, capsys)
    assert code == 1 and _broken(report) == (seq, "hash_mismatch")


def test_deleted_record_is_located(
    client: Any, make_org: Any, table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    org = make_org()
    audit_scenario(org)
    table.delete_item(Key=_key(org.id, 4))
    assert _broken(_verify(client, org)) == (4, "missing_record")
    code, report = _cli_verify(org.id, capsys)
    assert code == 1 and _broken(report) == (4, "missing_record")


def test_deleted_last_record_is_located(client: Any, make_org: Any, table: Any) -> None:
    org = make_org()
    audit_scenario(org)
    table.delete_item(Key=_key(org.id, LAST))
    assert _broken(_verify(client, org)) == (LAST, "missing_record")


def test_reordered_records_are_located(client: Any, make_org: Any, table: Any) -> None:
    org = make_org()
    audit_scenario(org)
    third = table.get_item(Key=_key(org.id, 3))["Item"]
    sixth = table.get_item(Key=_key(org.id, 6))["Item"]
    table.put_item(Item={**sixth, "sk": audit.seq_sk(3)})
    table.put_item(Item={**third, "sk": audit.seq_sk(6)})
    assert _broken(_verify(client, org)) == (3, "sequence_mismatch")


def test_reordered_records_with_renumbered_seq_are_located(
    client: Any, make_org: Any, table: Any
) -> None:
    """A more careful forger also rewrites `seq` to match the new slots."""
    org = make_org()
    audit_scenario(org)
    third = table.get_item(Key=_key(org.id, 3))["Item"]
    fourth = table.get_item(Key=_key(org.id, 4))["Item"]
    table.put_item(Item={**fourth, "sk": audit.seq_sk(3), "seq": 3})
    table.put_item(Item={**third, "sk": audit.seq_sk(4), "seq": 4})
    assert _broken(_verify(client, org)) == (3, "prev_hash_mismatch")


def test_tampering_one_org_leaves_the_other_intact(client: Any, make_org: Any, table: Any) -> None:
    org, other = make_org(), make_org()
    audit_scenario(org)
    audit_scenario(other)
    table.delete_item(Key=_key(other.id, 2))
    assert _verify(client, org)["ok"] is True
    assert _broken(_verify(client, other)) == (2, "missing_record")


def test_cli_human_output(
    client: Any, make_org: Any, table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    org = make_org()
    audit_scenario(org)
    assert cli_main(["audit", "verify", "--org", org.id]) == 0
    assert f"OK: {org.id}: {LAST} records" in capsys.readouterr().out
    table.delete_item(Key=_key(org.id, 5))
    assert cli_main(["audit", "verify", "--org", org.id]) == 1
    out = capsys.readouterr().out
    assert "first broken link at seq 5: missing_record" in out
