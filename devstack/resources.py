"""S3 buckets, the audit archive's signing key, the verified mail sender and the notifications
queue (with its dead-letter queue) for the local stack and the tests (tables come from
`chalicelib.tables`), and the recorder of scan-result events (a rule on the scan-events bus, a
queue, a JSON-lines file)."""

from __future__ import annotations

import json
from email.utils import parseaddr
from pathlib import Path

import boto3

from chalicelib.core.settings import get_settings
from chalicelib.notifications.queue import (
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT_SECONDS,
    dead_letter_queue_name,
)


def bucket_names() -> list[str]:
    settings = get_settings()
    return [
        settings.uploads_bucket,
        settings.quarantine_bucket,
        settings.definitions_bucket,
        settings.inbound_mail_bucket,
    ]


def create_buckets() -> None:
    """Create the private buckets the app uses, if missing."""
    settings = get_settings()
    s3 = boto3.client("s3", region_name=settings.region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in bucket_names():
        if name not in existing:
            s3.create_bucket(Bucket=name)
        # Attachments: private, encrypted, versioned buckets (as infra/ describes for AWS). The
        # version id is what ties a scan verdict to the exact bytes that were scanned.
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    create_audit_archive()
    create_mail_sender()
    create_notification_queues()


def create_notification_queues() -> None:
    """The notifications queue and its dead-letter queue (redrive after `MAX_RECEIVE_COUNT`
    receives), as infra/cfn_notifications.py describes them for AWS."""
    settings = get_settings()
    sqs = boto3.client("sqs", region_name=settings.region)
    dlq_url = sqs.create_queue(QueueName=dead_letter_queue_name(settings.notifications_queue))[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
    sqs.create_queue(
        QueueName=settings.notifications_queue,
        Attributes={
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
        },
    )


def create_mail_sender() -> None:
    """Verify MAIL_FROM's address in SES (moto refuses mail from an unverified sender, as SES
    does); in AWS the sender's domain is verified once per account, outside the stack."""
    settings = get_settings()
    _, address = parseaddr(settings.mail_from)
    ses = boto3.client("sesv2", region_name=settings.region)
    existing = {i["IdentityName"] for i in ses.list_email_identities().get("EmailIdentities", [])}
    if address not in existing:
        ses.create_email_identity(EmailIdentity=address)


def create_audit_archive() -> None:
    """The audit archive as the deploy template makes it: a bucket with Object Lock on (moto
    enforces COMPLIANCE retention), and the asymmetric key that signs checkpoints (in AWS a KMS
    key only the chainer may use; here moto's KMS, which implements Sign and Verify)."""
    settings = get_settings()
    s3 = boto3.client("s3", region_name=settings.region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if settings.audit_archive_bucket not in existing:
        s3.create_bucket(Bucket=settings.audit_archive_bucket, ObjectLockEnabledForBucket=True)
        s3.put_public_access_block(
            Bucket=settings.audit_archive_bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    kms = boto3.client("kms", region_name=settings.region)
    alias = settings.audit_signing_key_id
    aliases = {a["AliasName"] for a in kms.list_aliases().get("Aliases", [])}
    if alias.startswith("alias/") and alias not in aliases:
        key = kms.create_key(
            KeySpec="ECC_NIST_P256",
            KeyUsage="SIGN_VERIFY",
            Description="Deskguard audit checkpoint signing (local)",
        )
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyMetadata"]["KeyId"])


class EventRecorder:
    """Drains the queue a rule on the scan-events bus feeds into a JSON-lines file."""

    def __init__(self, queue_url: str, path: Path) -> None:
        self.queue_url = queue_url
        self.path = path

    def drain(self) -> int:
        sqs = boto3.client("sqs", region_name=get_settings().region)
        written = 0
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return written
            with self.path.open("a") as out:
                for message in messages:
                    out.write(json.dumps(json.loads(message["Body"]), sort_keys=True) + "\n")
                    sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                    written += 1


def create_event_recorder(path: Path) -> EventRecorder:
    """The scan-events bus with a rule sending every `Attachment Scanned` event to a queue."""
    settings = get_settings()
    events = boto3.client("events", region_name=settings.region)
    sqs = boto3.client("sqs", region_name=settings.region)
    bus = settings.scan_events_bus
    existing = {b["Name"] for b in events.list_event_buses().get("EventBuses", [])}
    if bus not in existing:
        events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=f"{bus}-recorder")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="record-attachment-scanned",
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": ["deskguard.attachments"], "detail-type": ["Attachment Scanned"]}
        ),
    )
    events.put_targets(
        Rule="record-attachment-scanned",
        EventBusName=bus,
        Targets=[{"Id": "recorder", "Arn": queue_arn}],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return EventRecorder(queue_url, path)
