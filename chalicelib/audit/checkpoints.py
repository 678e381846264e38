"""Signed checkpoints of the audit chain and their verification, with no AWS and no table.

A checkpoint anchors an organization's chain outside the table. The chainer writes two objects
per checkpoint to the audit archive bucket (S3 Object Lock, COMPLIANCE mode):

- `audit/<org>/records/<from seq>-<to seq>.jsonl`: the records it covers, one canonical JSON
  object per line (the hashed body plus `prevHash` and `hash`);
- `audit/<org>/checkpoints/<seq>.json`: `{"checkpoint": {...}, "algorithm", "signature"}`, where
  the checkpoint is `{organizationId, seq, headHash, time, previousCheckpointHash, fromSeq,
  records, recordsSha256, keyId}` and the signature (ECDSA P-256, SHA-256, DER, base64) covers
  its canonical JSON. `previousCheckpointHash` is the SHA-256 of the previous checkpoint's
  canonical JSON (64 zeros for the first), so the checkpoints form a chain of their own, like
  CloudTrail's digest files.

`verify_archive` checks all of it from the objects and the public key alone; the table-side
verification (`chalicelib.audit.log.verify_chain`) runs it too and compares the table with it.
Only the standard library is imported here; signatures are checked by a callable: with the
public key and `cryptography` (`public_key_verifier`, what the standalone verifier
`python -m infra.audit_archive_verify` uses, needing nothing of the service), or by KMS `Verify`
inside the service (whose Lambda package leaves `cryptography` out).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

GENESIS_HASH = "0" * 64
SIGNING_ALGORITHM = "ECDSA_SHA_256"
ARCHIVE_PREFIX = "audit/"


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces): what hashes and signatures cover."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    """`SHA-256(prev_hash || canonical JSON of the record)`, hex."""
    return hashlib.sha256((prev_hash + canonical_json(dict(body))).encode()).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checkpoint_hash(checkpoint: Mapping[str, Any]) -> str:
    """The SHA-256 of a checkpoint's canonical JSON (what the next one links to)."""
    return sha256_hex(canonical_json(dict(checkpoint)).encode())


def org_archive_prefix(organization_id: str) -> str:
    return f"{ARCHIVE_PREFIX}{organization_id}/"


def checkpoint_key(organization_id: str, seq: int) -> str:
    return f"{org_archive_prefix(organization_id)}checkpoints/{seq:012d}.json"


def records_key(organization_id: str, from_seq: int, to_seq: int) -> str:
    return f"{org_archive_prefix(organization_id)}records/{from_seq:012d}-{to_seq:012d}.jsonl"


def records_file(lines: Sequence[Mapping[str, Any]]) -> bytes:
    """The JSON-lines body of a records object."""
    return "".join(canonical_json(dict(line)) + "\n" for line in lines).encode()


SignatureCheck = Callable[[bytes, bytes], bool]  # (message, signature) -> valid


def public_key_verifier(public_key_pem: bytes) -> SignatureCheck:
    """ECDSA P-256 / SHA-256 verification with the public key (PEM), through `cryptography`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the audit signing key must be an elliptic-curve (P-256) key")

    def check(message: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    return check


@dataclasses.dataclass(frozen=True)
class ArchiveBreak:
    """The first problem found: the record seq it concerns and the checkpoint it belongs to."""

    seq: int
    checkpoint: int
    # checkpoint_signature_invalid | checkpoint_chain_broken | checkpoint_malformed
    # | archive_records_missing | archive_records_mismatch | hash_mismatch | prev_hash_mismatch
    # | missing_record
    reason: str
    detail: str


@dataclasses.dataclass
class ArchiveReport:
    organization_id: str
    ok: bool = True
    checkpoints: int = 0
    last_seq: int = 0
    head_hash: str = GENESIS_HASH
    records: int = 0
    first_broken: ArchiveBreak | None = None
    # seq -> hash of every record the intact checkpoints cover (compared with the table).
    hashes: dict[int, str] = dataclasses.field(default_factory=dict)
    checkpoint_seqs: list[int] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "organizationId": self.organization_id,
            "ok": self.ok,
            "checkpoints": self.checkpoints,
            "lastSeq": self.last_seq,
            "headHash": self.head_hash,
            "records": self.records,
            "firstBroken": dataclasses.asdict(self.first_broken) if self.first_broken else None,
        }


def _fail(report: ArchiveReport, seq: int, checkpoint: int, reason: str, detail: str) -> None:
    report.ok = False
    report.first_broken = ArchiveBreak(seq, checkpoint, reason, detail)


def _line_problem(
    report: ArchiveReport, raw: str, expected: int, prev_hash: str
) -> tuple[int, str, str] | tuple[int, str]:
    """`(seq, hash)` of a good records line, else `(seq, reason, detail)`."""
    try:
        line = json.loads(raw)
        stated_hash, stated_prev = line.pop("hash"), line.pop("prevHash")
        line_seq = int(line["seq"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return expected, "archive_records_mismatch", "unreadable record line"
    if line_seq != expected:
        return expected, "missing_record", f"record {expected} is absent"
    if stated_prev != prev_hash:
        return line_seq, "prev_hash_mismatch", "does not link to the one before"
    if compute_hash(stated_prev, line) != stated_hash or (
        line.get("organizationId") != report.organization_id
    ):
        return line_seq, "hash_mismatch", "content differs from what was hashed"
    return line_seq, str(stated_hash)


def _check_records(
    report: ArchiveReport, checkpoint: Mapping[str, Any], body: bytes, prev_hash: str
) -> dict[int, str] | None:
    """The covered records' hashes if they chain from `prev_hash` to the checkpoint's head."""
    seq, from_seq = int(checkpoint["seq"]), int(checkpoint["fromSeq"])
    hashes: dict[int, str] = {}
    expected = from_seq
    for raw in body.decode(errors="replace").splitlines():
        result = _line_problem(report, raw, expected, prev_hash)
        if len(result) == 3:
            _fail(report, result[0], seq, str(result[1]), str(result[2]))
            return None
        prev_hash = hashes[expected] = str(result[1])
        expected += 1
    problem: tuple[int, str, str] | None = None
    if expected - 1 != seq or prev_hash != checkpoint.get("headHash"):
        reason = "missing_record" if expected - 1 < seq else "archive_records_mismatch"
        problem = (min(expected, seq), reason, f"records end at {expected - 1}, not {seq}")
    elif sha256_hex(body) != checkpoint.get("recordsSha256"):
        problem = (from_seq, "archive_records_mismatch", "records object digest differs")
    if problem is not None:
        _fail(report, problem[0], seq, problem[1], problem[2])
        return None
    return hashes


def _checkpoint_problem(
    organization_id: str,
    document: Mapping[str, Any],
    verify: SignatureCheck,
    previous: tuple[str, int],
) -> tuple[str, str] | None:
    """Why a checkpoint document cannot be trusted after `previous` (hash, seq), or None."""
    checkpoint = document["checkpoint"]
    try:
        signature = base64.b64decode(document["signature"], validate=True)
    except (KeyError, ValueError, TypeError):
        signature = b""
    message = canonical_json(checkpoint).encode()
    if (
        document.get("algorithm") != SIGNING_ALGORITHM
        or not signature
        or not verify(message, signature)
    ):
        return "checkpoint_signature_invalid", "the signature does not verify"
    if checkpoint.get("organizationId") != organization_id:
        return "checkpoint_malformed", "a checkpoint of another organization"
    previous_hash, previous_seq = previous
    if checkpoint.get("previousCheckpointHash") != previous_hash or (
        int(checkpoint.get("fromSeq", -1)) != previous_seq + 1
    ):
        return "checkpoint_chain_broken", f"does not follow the checkpoint at seq {previous_seq}"
    return None


def verify_archive(
    organization_id: str,
    checkpoint_objects: Mapping[str, bytes],
    read_object: Mapping[str, bytes],
    verify: SignatureCheck,
) -> ArchiveReport:
    """Check an organization's checkpoints (by key) and the records objects they name.

    `checkpoint_objects`: every checkpoint object of the organization; `read_object`: any object
    of the archive by key (records files); `verify`: the signature check. Walks checkpoints in
    seq order and stops at the first problem: a bad signature, a broken checkpoint chain (one
    deleted, replaced or reordered), a records object missing or altered, a record that does not
    hash or link.
    """
    report = ArchiveReport(organization_id)
    parsed: list[tuple[int, dict[str, Any]]] = []
    for key, raw in checkpoint_objects.items():
        try:
            document = json.loads(raw)
            parsed.append((int(document["checkpoint"]["seq"]), document))
        except (ValueError, KeyError, TypeError):
            _fail(report, 1, 0, "checkpoint_malformed", f"{key} is not a checkpoint")
            return report
    parsed.sort(key=lambda pair: pair[0])
    previous_hash, previous_seq = GENESIS_HASH, 0
    for seq, document in parsed:
        checkpoint = document["checkpoint"]
        problem = _checkpoint_problem(
            organization_id, document, verify, (previous_hash, previous_seq)
        )
        body = read_object.get(str(checkpoint.get("records")))
        if problem is None and body is None:
            problem = ("archive_records_missing", "the records object is missing")
        if problem is not None or body is None:
            reason, detail = problem or ("archive_records_missing", "")
            _fail(report, previous_seq + 1, seq, reason, detail)
            return report
        hashes = _check_records(report, checkpoint, body, report.head_hash)
        if hashes is None:
            return report
        report.hashes.update(hashes)
        report.checkpoint_seqs.append(seq)
        report.checkpoints += 1
        report.records += len(hashes)
        report.last_seq, report.head_hash = seq, str(checkpoint["headHash"])
        previous_hash, previous_seq = checkpoint_hash(checkpoint), seq
    return report
