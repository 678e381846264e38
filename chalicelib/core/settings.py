"""The one settings module: reads the environment once, at import, into a frozen object.

Every table name, bucket name, limit and switch of Deskguard is here. `.env.example` documents each
variable. Code reads values through `get_settings()` at call time (never a module-level copy), so
a test can swap values with `override()` instead of touching `os.environ` after import.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

LOCAL_STAGES = frozenset({"local", "test"})


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    return default if raw is None or raw == "" else int(raw)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    value = default if raw is None or raw == "" else float(raw)
    if not value > 0:
        raise ValueError(f"{name} must be a positive number")
    return value


def _csv(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _argv(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    return default if raw is None or not raw.strip() else tuple(shlex.split(raw))


# No generated `__repr__`/`__eq__`: nothing compares or prints the whole configuration, and the
# 70-odd fields' generated methods are a measurable share of every function's cold start.
@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Settings:
    """Every configurable value of the service, read once from the environment."""

    stage: str
    region: str
    # DynamoDB tables. Every table's partition key starts with the organization id.
    table_prefix: str
    # S3 buckets.
    uploads_bucket: str
    quarantine_bucket: str
    definitions_bucket: str
    # HTTP.
    max_body_bytes: int
    hsts_enabled: bool
    # X-Ray subsegments through Powertools' Tracer: in Lambda unless POWERTOOLS_TRACE_DISABLED.
    tracing_enabled: bool
    # Rate limiting: on everywhere, the local stack included, except on the `test` stage (the
    # tests switch it on explicitly).
    rate_limit_enabled: bool
    # Identity.
    jwt_issuer: str
    jwt_audience: str
    session_ttl_seconds: int
    bcrypt_rounds: int
    # Cookie sessions (the origins CSRF allows) and API token limits.
    allowed_origins: tuple[str, ...]
    api_token_max_days: int
    api_token_rotation_grace_seconds: int
    # Attachments.
    attachment_max_bytes: int
    attachment_allowed_types: tuple[str, ...]
    # Attachments: presigned URLs, scanner (ClamAV) and its definitions.
    attachment_upload_expiry_seconds: int
    attachment_download_expiry_seconds: int
    attachment_upload_sse: str
    clamav_definitions_dir: str
    clamav_definitions_prefix: str
    clamav_definitions_from_s3: bool
    scan_timeout_seconds: int
    scan_tmp_dir: str
    # The resident clamd (argv to launch it; in Lambda through the layer's own loader), its work
    # directory (config, socket, database links) and how long a cold start may take.
    clamd_command: tuple[str, ...] = ("clamd",)
    clamd_work_dir: str = "/tmp/deskguard-clamd"  # noqa: S108 (Lambda's only writable dir)
    clamd_startup_timeout_seconds: int = 180
    # The definitions refresh: freshclam's argv, the mirrors it pulls from, extra databases.
    freshclam_command: tuple[str, ...] = ("freshclam",)
    clamav_private_mirrors: tuple[str, ...] = ()
    clamav_custom_database_urls: tuple[str, ...] = ()
    clamav_official_databases: bool = True
    definitions_sync_interval_seconds: int = 300
    # After new definitions: CLEAN attachments scanned within this many hours are rescanned.
    definitions_rescan_window_hours: int = 72
    # EventBridge bus every final verdict is put on (`Attachment Scanned`); empty = none.
    scan_events_bus: str = ""
    # How long a list cursor stays valid (cursors are signed with the keyed-hash key).
    cursor_ttl_seconds: int = 86400
    # Tickets: how long an Idempotency-Key's first result is replayed.
    idempotency_ttl_seconds: int = 86400
    # Security events, rate limiting, containment.
    # Key for keyed hashes (e-mail pseudonyms, list cursors); deployed stages may leave it empty
    # and use the keyring secret's `hmac` (chalicelib/core/keyed.py).
    security_hmac_key: str = ""
    # Containment (chalicelib/auth/containment.py): probing signals per credential per window:
    # report at the first threshold, revoke that credential at the second; cross-organization
    # signals per account (over all its credentials): revoke the whole account.
    containment_window_seconds: int = 600
    containment_suspicious_threshold: int = 3
    containment_revoke_threshold: int = 10
    containment_account_threshold: int = 20
    # Login: how long a device cookie (set at a successful login) lets its browser past the
    # per-account login slow-down (chalicelib/auth/devices.py).
    login_device_ttl_seconds: int = 30 * 86400
    # A failed login is answered no sooner than this after it arrived (milliseconds), so the
    # residual latency differences of a known and an unknown account (an item read that hits
    # or misses) vanish under it. Above bcrypt's cost plus the login's DynamoDB calls.
    login_failure_floor_ms: int = 0
    # A session token with an unknown `kid` reloads the keyring secret at most once per this
    # many seconds (key rotation reaches warm containers without a redeploy).
    keyring_reload_interval_seconds: int = 60
    # The audit archive bucket (S3 Object Lock, COMPLIANCE) from infra/cfn_buckets.py, how
    # long each archived object is locked, the asymmetric KMS key that signs checkpoints, and
    # how often the chainer writes one (after N records, or T seconds after the last one).
    audit_archive_bucket: str = ""
    audit_archive_retention_days: int = 365
    audit_signing_key_id: str = ""
    audit_checkpoint_every_records: int = 500
    audit_checkpoint_every_seconds: int = 300
    # Webhooks: per-operation socket timeout of a delivery, how much of a response body is kept,
    # how long a rotated secret keeps signing, how long a delivery is retried, endpoints per org.
    webhook_timeout_seconds: int = 5
    webhook_response_prefix_bytes: int = 256
    webhook_secret_grace_seconds: int = 86400
    webhook_retry_window_seconds: int = 86400
    webhook_max_endpoints: int = 20
    # Mail (chalicelib/mail): the sender address (a verified SES identity), an optional SES
    # configuration set, and the app's public address that links in mail point at.
    mail_from: str = "Deskguard <no-reply@deskguard.example>"
    mail_configuration_set: str = ""
    # The domain under which every organization receives mail: `support@<org>.<mail_domain>`
    # (SES receives for it), and under which reply addresses and Message-IDs are minted.
    mail_domain: str = "mail.deskguard.example"
    public_app_url: str = "http://localhost:8000"
    # Ticket notifications (chalicelib/notifications): the SQS queue their sends wait in (a
    # dead-letter queue behind it, infra/cfn_notifications.py).
    notifications_queue: str = ""
    # Inbound mail (chalicelib/intake): the bucket SES stores received messages in, the largest
    # message read, and the parts, attachment size and attachment count one message may bring.
    inbound_mail_bucket: str = ""
    mail_max_message_bytes: int = 40 * 1024 * 1024
    mail_max_parts: int = 32
    mail_max_attachment_bytes: int = 10 * 1024 * 1024
    mail_max_attachments: int = 10
    # One-time password tokens: how long a reset link and an invitation (setup) link live.
    password_reset_ttl_seconds: int = 1800
    password_setup_ttl_seconds: int = 72 * 3600
    # A password-reset request is answered no sooner than this after it arrived (milliseconds),
    # so a known address (which sends a mail) and an unknown one take the same time.
    password_reset_floor_ms: int = 0
    # Multiplies every route class's per-IP and per-principal limit (not the login limits): a
    # load test of the local stack raises the budgets with it. 1 in deployed stages.
    rate_limit_scale: float = 1.0

    @property
    def is_local(self) -> bool:
        """True on the `local` and `test` stages (moto, no real AWS)."""
        return self.stage in LOCAL_STAGES

    def table_name(self, short_name: str) -> str:
        """The physical DynamoDB table name for a logical table (e.g. `tickets`)."""
        return f"{self.table_prefix}-{short_name}"


def load(env: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping (pure; used once at import and by tests)."""
    stage = env.get("DESKGUARD_STAGE", "local")
    local = stage in LOCAL_STAGES
    prefix = env.get("DESKGUARD_TABLE_PREFIX", f"deskguard-{stage}")
    return Settings(
        stage=stage,
        region=env.get("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1")),
        table_prefix=prefix,
        uploads_bucket=env.get("UPLOADS_BUCKET", f"{prefix}-uploads"),
        quarantine_bucket=env.get("QUARANTINE_BUCKET", f"{prefix}-quarantine"),
        definitions_bucket=env.get("DEFINITIONS_BUCKET", f"{prefix}-av-definitions"),
        audit_archive_bucket=env.get("AUDIT_ARCHIVE_BUCKET", f"{prefix}-audit-archive"),
        audit_archive_retention_days=_int(env, "AUDIT_ARCHIVE_RETENTION_DAYS", 365),
        audit_signing_key_id=env.get("AUDIT_SIGNING_KEY_ID") or f"alias/{prefix}-audit-signing",
        audit_checkpoint_every_records=_int(env, "AUDIT_CHECKPOINT_EVERY_RECORDS", 500),
        audit_checkpoint_every_seconds=_int(env, "AUDIT_CHECKPOINT_EVERY_SECONDS", 300),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 64 * 1024),
        hsts_enabled=_bool(env, "HSTS_ENABLED", True),
        tracing_enabled=bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
        and not _bool(env, "POWERTOOLS_TRACE_DISABLED", False),
        rate_limit_enabled=_bool(env, "RATE_LIMIT_ENABLED", stage != "test"),
        rate_limit_scale=_positive_float(env, "RATE_LIMIT_SCALE", 1.0),
        jwt_issuer=env.get("JWT_ISSUER", f"deskguard-{stage}"),
        jwt_audience=env.get("JWT_AUDIENCE", "deskguard-api"),
        session_ttl_seconds=_int(env, "SESSION_TTL_SECONDS", 3600),
        bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 12),
        # Cookie sessions and API tokens.
        allowed_origins=_csv(
            env,
            "ALLOWED_ORIGINS",
            ("http://localhost:8000", "http://127.0.0.1:8000") if local else (),
        ),
        api_token_max_days=_int(env, "API_TOKEN_MAX_DAYS", 90),
        api_token_rotation_grace_seconds=_int(env, "API_TOKEN_ROTATION_GRACE_SECONDS", 900),
        attachment_max_bytes=_int(env, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),
        attachment_allowed_types=_csv(
            env,
            "ATTACHMENT_ALLOWED_TYPES",
            (
                "image/png",
                "image/jpeg",
                "image/gif",
                "application/pdf",
                "text/plain",
                "text/csv",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        ),
        attachment_upload_expiry_seconds=_int(env, "ATTACHMENT_UPLOAD_EXPIRY_SECONDS", 300),
        attachment_download_expiry_seconds=_int(env, "ATTACHMENT_DOWNLOAD_EXPIRY_SECONDS", 60),
        attachment_upload_sse=env.get("ATTACHMENT_UPLOAD_SSE") or "AES256",
        clamav_definitions_dir=env.get("CLAMAV_DEFINITIONS_DIR") or "/tmp/clamav-definitions",  # noqa: S108
        clamav_definitions_prefix=env.get("CLAMAV_DEFINITIONS_PREFIX") or "clamav/",
        clamav_definitions_from_s3=_bool(env, "CLAMAV_DEFINITIONS_FROM_S3", not local),
        scan_timeout_seconds=_int(env, "SCAN_TIMEOUT_SECONDS", 120),
        scan_tmp_dir=env.get("SCAN_TMP_DIR", ""),
        clamd_command=_argv(env, "CLAMD_COMMAND", ("clamd",)),
        clamd_work_dir=env.get("CLAMD_WORK_DIR") or "/tmp/deskguard-clamd",  # noqa: S108
        clamd_startup_timeout_seconds=_int(env, "CLAMD_STARTUP_TIMEOUT_SECONDS", 180),
        freshclam_command=_argv(env, "FRESHCLAM_COMMAND", ("freshclam",)),
        clamav_private_mirrors=_csv(env, "CLAMAV_PRIVATE_MIRRORS", ()),
        clamav_custom_database_urls=_csv(env, "CLAMAV_CUSTOM_DATABASE_URLS", ()),
        clamav_official_databases=_bool(env, "CLAMAV_OFFICIAL_DATABASES", True),
        definitions_sync_interval_seconds=_int(env, "DEFINITIONS_SYNC_INTERVAL_SECONDS", 300),
        definitions_rescan_window_hours=_int(env, "DEFINITIONS_RESCAN_WINDOW_HOURS", 72),
        scan_events_bus=env.get("SCAN_EVENTS_BUS", f"{prefix}-events" if not local else ""),
        cursor_ttl_seconds=_int(env, "CURSOR_TTL_SECONDS", 86400),
        idempotency_ttl_seconds=_int(env, "IDEMPOTENCY_TTL_SECONDS", 86400),
        security_hmac_key=env.get("SECURITY_HMAC_KEY", ""),
        login_device_ttl_seconds=_int(env, "LOGIN_DEVICE_TTL_SECONDS", 30 * 86400),
        keyring_reload_interval_seconds=_int(env, "KEYRING_RELOAD_INTERVAL_SECONDS", 60),
        login_failure_floor_ms=_int(env, "LOGIN_FAILURE_FLOOR_MS", 0 if local else 500),
        mail_from=env.get("MAIL_FROM") or "Deskguard <no-reply@deskguard.example>",
        mail_configuration_set=env.get("MAIL_CONFIGURATION_SET", ""),
        mail_domain=(env.get("MAIL_DOMAIN") or "mail.deskguard.example").strip(".").lower(),
        public_app_url=(env.get("PUBLIC_APP_URL") or "http://localhost:8000").rstrip("/"),
        notifications_queue=env.get("NOTIFICATIONS_QUEUE") or f"{prefix}-notifications",
        inbound_mail_bucket=env.get("INBOUND_MAIL_BUCKET") or f"{prefix}-inbound-mail",
        mail_max_message_bytes=_int(env, "MAIL_MAX_MESSAGE_BYTES", 40 * 1024 * 1024),
        mail_max_parts=_int(env, "MAIL_MAX_PARTS", 32),
        mail_max_attachment_bytes=_int(env, "MAIL_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
        mail_max_attachments=_int(env, "MAIL_MAX_ATTACHMENTS", 10),
        password_reset_ttl_seconds=_int(env, "PASSWORD_RESET_TTL_SECONDS", 1800),
        password_setup_ttl_seconds=_int(env, "PASSWORD_SETUP_TTL_SECONDS", 72 * 3600),
        password_reset_floor_ms=_int(env, "PASSWORD_RESET_FLOOR_MS", 0 if local else 800),
        containment_window_seconds=_int(env, "CONTAINMENT_WINDOW_SECONDS", 600),
        containment_suspicious_threshold=_int(env, "CONTAINMENT_SUSPICIOUS_THRESHOLD", 3),
        containment_revoke_threshold=_int(env, "CONTAINMENT_REVOKE_THRESHOLD", 10),
        containment_account_threshold=_int(env, "CONTAINMENT_ACCOUNT_THRESHOLD", 20),
        webhook_timeout_seconds=_int(env, "WEBHOOK_TIMEOUT_SECONDS", 5),
        webhook_response_prefix_bytes=_int(env, "WEBHOOK_RESPONSE_PREFIX_BYTES", 256),
        webhook_secret_grace_seconds=_int(env, "WEBHOOK_SECRET_GRACE_SECONDS", 86400),
        webhook_retry_window_seconds=_int(env, "WEBHOOK_RETRY_WINDOW_SECONDS", 86400),
        webhook_max_endpoints=_int(env, "WEBHOOK_MAX_ENDPOINTS", 20),
    )


_current: Settings = load(os.environ)


def get_settings() -> Settings:
    """The live settings."""
    return _current


@contextmanager
def override(**changes: Any) -> Iterator[Settings]:
    """Temporarily replace fields of the live settings (tests and benchmarks only)."""
    global _current
    previous = _current
    _current = dataclasses.replace(previous, **changes)
    try:
        yield _current
    finally:
        _current = previous
