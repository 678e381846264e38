"""Someone with write access to the audit table edits it behind the API's back: the chain check
(API and CLI) detects it in the table itself or against the signed checkpoints in the Object Lock
archive, and names the first broken seq (and the checkpoint that shows it). The archive can be
verified with nothing but its objects and the public key, by a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.audit import archive
from chalicelib.audit import trail as audit
from chalicelib.audit.checkpoints import compute_hash
from chalicelib.core import settings
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from cli.main import main as cli_main
from tests.support.audit import ORG_SETUP_RECORDS, audit_scenario, chain_all

SCENARIO = 10 + ORG_SETUP_RECORDS  # 13: the first checkpoint
SECOND_CHECKPOINT = SCENARIO + 6  # 19
LAST = SECOND_CHECKPOINT + 2  # 21: two records after the last checkpoint
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def table() -> Any:
    dynamodb = boto3.resource("dynamodb", region_name=get_settings().region)
    return dynamodb.Table(get_settings().table_name("audit"))


def _more(org: Any, count: int) -> None:
    for i in range(count):
        audit.transact(audit.AuditEntry(org.id, org.agent.id, "ticket.update", "ticket", f"x{i}"))


def history(org: Any) -> None:
    """21 chained records; signed checkpoints at 13 and 19 (every 5 records, per batch)."""
    with settings.override(audit_checkpoint_every_records=5):
        audit_scenario(org)
        _more(org, SECOND_CHECKPOINT - SCENARIO)
        chain_all()
    _more(org, LAST - SECOND_CHECKPOINT)
    chain_all()


def _items(table: Any, org_id: str) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :rec)",
        "ExpressionAttributeValues": {":pk": org_pk(org_id), ":rec": audit.RECORD_PREFIX},
    }
    for item in table.query(**kwargs)["Items"]:
        found[int(item["seq"])] = item
    return found


def _key(item: dict[str, Any]) -> dict[str, str]:
    return {"pk": item["pk"], "sk": item["sk"]}


def _verify(client: Any, org: Any) -> dict[str, Any]:
    response = client.get("/api/admin/audit/verify", token=org.admin.token)
    assert response.status == 200
    return dict(response.json)


def _cli_verify(org_id: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()  # drop what earlier steps printed (EMF metric lines go to stdout)
    code = cli_main(["audit", "verify", "--org", org_id, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _broken(report: dict[str, Any]) -> tuple[int, str, int | None]:
    assert report["ok"] is False
    broken = report["firstBroken"]
    return broken["seq"], broken["reason"], broken["checkpoint"]


def _rehash_from(table: Any, org_id: str, start: int) -> None:
    """What a careful forger does after editing record `start`: recompute every hash after it
    and move the tip, so the table alone is consistent again."""
    items = _items(table, org_id)
    prev = items[start]["prev_hash"]
    for seq in range(start, max(items) + 1):
        record = audit.AuditRecordModel.get(items[seq]["pk"], items[seq]["sk"])
        new_hash = compute_hash(prev, audit.record_body(record))
        table.update_item(
            Key=_key(items[seq]),
            UpdateExpression="SET prev_hash = :p, #h = :h",
            ExpressionAttributeNames={"#h": "hash"},
            ExpressionAttributeValues={":p": prev, ":h": new_hash},
        )
        prev = new_hash
    table.update_item(
        Key={"pk": org_pk(org_id), "sk": audit.CHAIN_SK},
        UpdateExpression="SET #h = :h, seq = :s",
        ExpressionAttributeNames={"#h": "hash"},
        ExpressionAttributeValues={":h": prev, ":s": max(items)},
    )


def test_realistic_history_verifies(
    client: Any, make_org: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    org = make_org()
    history(org)
    report = _verify(client, org)
    assert report == {
        "organizationId": org.id,
        "ok": True,
        "checked": LAST,
        "headSeq": LAST,
        "pending": 0,
        "checkpoints": 2,
        "checkpointSeq": SECOND_CHECKPOINT,
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
    history(org)
    item = _items(table, org.id)[seq]
    value = str(item[attribute])
    flipped = value[:-1] + ("0" if value[-1] != "0" else "1")  # one character changed
    table.update_item(
        Key=_key(item),
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": flipped},
    )
    assert _broken(_verify(client, org))[:2] == (seq, "hash_mismatch")
    code, report = _cli_verify(org.id, capsys)
    assert code == 1 and _broken(report)[:2] == (seq, "hash_mismatch")


def test_deleted_record_is_located(
    client: Any, make_org: Any, table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    org = make_org()
    history(org)
    table.delete_item(Key=_key(_items(table, org.id)[4]))
    assert _broken(_verify(client, org))[:2] == (4, "missing_record")
    code, report = _cli_verify(org.id, capsys)
    assert code == 1 and _broken(report)[:2] == (4, "missing_record")


def test_deleted_last_record_is_located(client: Any, make_org: Any, table: Any) -> None:
    org = make_org()
    history(org)
    table.delete_item(Key=_key(_items(table, org.id)[LAST]))
    assert _broken(_verify(client, org))[:2] == (LAST, "missing_record")


def test_reordered_records_are_located(client: Any, make_org: Any, table: Any) -> None:
    """Two records swap places in the chain (their seq numbers exchanged)."""
    org = make_org()
    history(org)
    items = _items(table, org.id)
    table.update_item(Key=_key(items[3]), UpdateExpression="SET seq = :s",
                      ExpressionAttributeValues={":s": 4})  # fmt: skip
    table.update_item(Key=_key(items[4]), UpdateExpression="SET seq = :s",
                      ExpressionAttributeValues={":s": 3})  # fmt: skip
    assert _broken(_verify(client, org))[:2] == (3, "prev_hash_mismatch")


def test_deleted_tail_with_a_rewritten_tip_is_located_by_the_checkpoint(
    client: Any, make_org: Any, table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last four records deleted and the tip moved back: the table alone is consistent,
    but the checkpoint at 19 holds records 18 and 19."""
    org = make_org()
    history(org)
    items = _items(table, org.id)
    for seq in range(LAST - 3, LAST + 1):
        table.delete_item(Key=_key(items[seq]))
    kept = items[LAST - 4]
    table.update_item(
        Key={"pk": org_pk(org.id), "sk": audit.CHAIN_SK},
        UpdateExpression="SET #h = :h, seq = :s",
        ExpressionAttributeNames={"#h": "hash"},
        ExpressionAttributeValues={":h": kept["hash"], ":s": LAST - 4},
    )
    assert _broken(_verify(client, org)) == (LAST - 3, "missing_record", SECOND_CHECKPOINT)
    code, report = _cli_verify(org.id, capsys)
    assert code == 1 and _broken(report) == (LAST - 3, "missing_record", SECOND_CHECKPOINT)


def test_a_tail_rewritten_and_rehashed_after_a_checkpoint_is_located(
    client: Any, make_org: Any, table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Record 10 edited and every hash after it recomputed, tip included: the table's chain is
    whole again, but it no longer matches what checkpoint 13 signed."""
    org = make_org()
    history(org)
    item = _items(table, org.id)[10]
    table.update_item(
        Key=_key(item),
        UpdateExpression="SET actor_id = :a",
        ExpressionAttributeValues={":a": "someone-else"},
    )
    _rehash_from(table, org.id, 10)
    assert _broken(_verify(client, org)) == (10, "archive_mismatch", SCENARIO)
    code, report = _cli_verify(org.id, capsys)
    assert code == 1 and _broken(report) == (10, "archive_mismatch", SCENARIO)


def test_archived_checkpoints_cannot_be_deleted_or_hidden(client: Any, make_org: Any) -> None:
    org = make_org()
    history(org)
    s3 = boto3.client("s3", region_name=get_settings().region)
    bucket = get_settings().audit_archive_bucket
    listed = s3.list_object_versions(Bucket=bucket, Prefix=f"audit/{org.id}/checkpoints/")
    version = listed["Versions"][-1]
    with pytest.raises(ClientError) as refused:  # COMPLIANCE mode: no one may delete it
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    s3.delete_object(Bucket=bucket, Key=version["Key"])  # only a delete marker
    assert _verify(client, org)["checkpoints"] == 2  # the verifier reads versions, not markers


def test_tampering_one_org_leaves_the_other_intact(client: Any, make_org: Any, table: Any) -> None:
    org, other = make_org(), make_org()
    history(org)
    history(other)
    table.delete_item(Key=_key(_items(table, other.id)[2]))
    assert _verify(client, org)["ok"] is True
    assert _broken(_verify(client, other))[:2] == (2, "missing_record")


def test_cli_human_output(
    client: Any, make_org: Any, table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    org = make_org()
    history(org)
    assert cli_main(["audit", "verify", "--org", org.id]) == 0
    assert f"OK: {org.id}: {LAST} records" in capsys.readouterr().out
    table.delete_item(Key=_key(_items(table, org.id)[5]))
    assert cli_main(["audit", "verify", "--org", org.id]) == 1
    out = capsys.readouterr().out
    assert "first broken link at seq 5" in out and "missing_record" in out


# --- The archive alone ---------------------------------------------------------------------


def _download(org_id: str, root: Path) -> Path:
    """What `aws s3 sync` of the archive bucket and `aws kms get-public-key` give an auditor."""
    for key, body in archive.read_org_archive(org_id).items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    key_file = root / "audit-signing.pem"
    key_file.write_bytes(archive.public_key_pem())
    return key_file


def _archive_verify(org_id: str, root: Path, key_file: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "infra.audit_archive_verify", "--org", org_id,
         "--public-key", str(key_file), "--dir", str(root)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


def test_the_archive_alone_reproduces_the_result(
    client: Any, make_org: Any, tmp_path: Path
) -> None:
    org = make_org()
    history(org)
    key_file = _download(org.id, tmp_path)
    code, report = _archive_verify(org.id, tmp_path, key_file)
    api = _verify(client, org)
    assert code == 0 and report["ok"] is True
    assert (report["checkpoints"], report["lastSeq"], report["records"]) == (
        api["checkpoints"],
        api["checkpointSeq"],
        SECOND_CHECKPOINT,
    )
    head = next(r for r in client.get(
        "/api/admin/audit?limit=100", token=org.admin.token).json["items"]
        if r["seq"] == SECOND_CHECKPOINT)  # fmt: skip
    assert report["headHash"] == head["hash"]


def test_the_archive_alone_locates_a_changed_record(make_org: Any, tmp_path: Path) -> None:
    org = make_org()
    history(org)
    key_file = _download(org.id, tmp_path)
    records = sorted((tmp_path / "audit" / org.id / "records").iterdir())[-1]
    lines = records.read_text().splitlines()
    line = json.loads(lines[1])  # seq 15
    line["actorId"] = "someone-else"
    lines[1] = json.dumps(line, sort_keys=True, separators=(",", ":"))
    records.write_text("\n".join(lines) + "\n")
    code, report = _archive_verify(org.id, tmp_path, key_file)
    assert code == 1
    assert report["firstBroken"]["seq"] == SCENARIO + 2
    assert report["firstBroken"]["reason"] == "hash_mismatch"
    assert report["firstBroken"]["checkpoint"] == SECOND_CHECKPOINT


def test_the_archive_alone_locates_a_removed_checkpoint(make_org: Any, tmp_path: Path) -> None:
    org = make_org()
    history(org)
    key_file = _download(org.id, tmp_path)
    sorted((tmp_path / "audit" / org.id / "checkpoints").iterdir())[0].unlink()
    code, report = _archive_verify(org.id, tmp_path, key_file)
    assert code == 1
    assert report["firstBroken"]["reason"] == "checkpoint_chain_broken"
    assert report["firstBroken"]["checkpoint"] == SECOND_CHECKPOINT


def test_the_archive_alone_refuses_another_key(make_org: Any, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    org = make_org()
    history(org)
    _download(org.id, tmp_path)
    forger = tmp_path / "forger.pem"
    forger.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    code, report = _archive_verify(org.id, tmp_path, forger)
    assert code == 1 and report["firstBroken"]["reason"] == "checkpoint_signature_invalid"
