"""S3 operations for attachments: generated keys, presigned POST/GET, tags, quarantine, deletion.

Objects are addressed by version id wherever one is known: the scan result and the download link
refer to the exact version that was scanned, so an object re-uploaded over a scanned key can never
be served under the old verdict.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.core.settings import get_settings

_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_KEY_PATTERN = re.compile(rf"org/(?P<org>{_ID})/ticket/(?P<ticket>{_ID})/(?P<attachment>{_ID})")
QUARANTINE_PREFIXES = {"INFECTED": "infected/", "REJECTED": "rejected/"}
_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}


@functools.cache
def _client(region: str) -> Any:
    return boto3.client("s3", region_name=region, config=Config(signature_version="s3v4"))


def s3() -> Any:
    """The S3 client (one per container; endpoint from AWS_ENDPOINT_URL when set locally)."""
    return _client(get_settings().region)


def is_missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


def object_key(organization_id: str, ticket_id: str, attachment_id: str) -> str:
    """The generated key of an attachment (the user's filename never appears in it)."""
    key = f"org/{organization_id}/ticket/{ticket_id}/{attachment_id}"
    if not _KEY_PATTERN.fullmatch(key):
        raise ValueError("identifier not usable in an object key")
    return key


def parse_key(key: str) -> tuple[str, str, str] | None:
    """(organization id, ticket id, attachment id) from a generated key, or None."""
    match = _KEY_PATTERN.fullmatch(key)
    if match is None:
        return None
    return match["org"], match["ticket"], match["attachment"]


def presigned_post(key: str, content_type: str) -> dict[str, Any]:
    """A presigned POST pinning the key, the content type, 1..cap bytes and encryption."""
    settings = get_settings()
    fields = {
        "Content-Type": content_type,
        "x-amz-server-side-encryption": settings.attachment_upload_sse,
    }
    # boto3 adds the exact `bucket` and `key` conditions itself.
    conditions: list[Any] = [
        ["eq", "$Content-Type", content_type],
        ["eq", "$x-amz-server-side-encryption", settings.attachment_upload_sse],
        ["content-length-range", 1, settings.attachment_max_bytes],
    ]
    post: dict[str, Any] = s3().generate_presigned_post(
        Bucket=settings.uploads_bucket,
        Key=key,
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=settings.attachment_upload_expiry_seconds,
    )
    return post


def presigned_get(
    key: str, version_id: str | None, content_disposition: str, content_type: str
) -> str:
    """A short-lived GET link for one object version, forced to download."""
    settings = get_settings()
    params: dict[str, Any] = {
        "Bucket": settings.uploads_bucket,
        "Key": key,
        "ResponseContentDisposition": content_disposition,
        "ResponseContentType": content_type,
    }
    if version_id:
        params["VersionId"] = version_id
    url: str = s3().generate_presigned_url(
        "get_object", Params=params, ExpiresIn=settings.attachment_download_expiry_seconds
    )
    return url


def _version(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def head(bucket: str, key: str, version_id: str | None) -> dict[str, Any] | None:
    """The object's metadata, or None if that object (version) does not exist."""
    try:
        response: dict[str, Any] = s3().head_object(Bucket=bucket, Key=key, **_version(version_id))
    except ClientError as error:
        if is_missing(error):
            return None
        raise
    return response


def download(bucket: str, key: str, version_id: str | None, path: str, max_bytes: int) -> int:
    """Stream an object version to `path`, refusing more than `max_bytes`; returns the size."""
    body = s3().get_object(Bucket=bucket, Key=key, **_version(version_id))["Body"]
    written = 0
    with open(path, "wb") as out:
        for chunk in iter(lambda: body.read(1024 * 1024), b""):
            written += len(chunk)
            if written > max_bytes:
                raise ValueError("object larger than the attachment cap")
            out.write(chunk)
    return written


def _tagging(tags: Mapping[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def tag(bucket: str, key: str, version_id: str | None, tags: Mapping[str, str]) -> None:
    """Replace the object version's tags (`av-status`, `av-signature`, `av-scanned-at`)."""
    s3().put_object_tagging(Bucket=bucket, Key=key, Tagging=_tagging(tags), **_version(version_id))


def quarantine(key: str, version_id: str | None, status: str, tags: Mapping[str, str]) -> str:
    """Move an object version to the quarantine bucket (tagged); returns its quarantine key."""
    settings = get_settings()
    target = f"{QUARANTINE_PREFIXES[status]}{key}"
    source: dict[str, str] = {"Bucket": settings.uploads_bucket, "Key": key, **_version(version_id)}
    s3().copy_object(
        Bucket=settings.quarantine_bucket,
        Key=target,
        CopySource=source,
        TaggingDirective="REPLACE",
        Tagging="&".join(f"{k}={_tag_value(v)}" for k, v in tags.items()),
        ServerSideEncryption="AES256",
        MetadataDirective="COPY",
    )
    delete_version(settings.uploads_bucket, key, version_id)
    return target


def _tag_value(value: str) -> str:
    return quote(value, safe="")


def delete_version(bucket: str, key: str, version_id: str | None) -> None:
    """Delete one object version (or the current object when the bucket is unversioned)."""
    s3().delete_object(Bucket=bucket, Key=key, **_version(version_id))


def delete_all_versions(bucket: str, key: str) -> int:
    """Delete every version and delete marker of exactly `key`; returns how many went."""
    client = s3()
    deleted = 0
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if entry["Key"] == key:
                client.delete_object(Bucket=bucket, Key=key, VersionId=entry["VersionId"])
                deleted += 1
    return deleted
