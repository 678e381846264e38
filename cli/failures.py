"""Turn the failures an operator can fix into one sentence (printed instead of a traceback).

Missing or unreachable endpoint, missing credentials or region, a resource AWS does not have,
a domain error (unknown organization or user, invalid input) and the tools' own `OperatorError`.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from botocore import exceptions as aws

_UNREACHABLE = (
    aws.EndpointConnectionError,
    aws.ConnectTimeoutError,
    aws.ReadTimeoutError,
    aws.ConnectionClosedError,
)
_NO_CREDENTIALS = (aws.NoCredentialsError, aws.PartialCredentialsError)
_AUTH_CODES = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "ExpiredToken",
    "AccessDeniedException",
    "AccessDenied",
}


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it (pynamodb keeps the botocore error in `.cause`)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)
        if not isinstance(cause, BaseException):
            cause = current.__cause__ or current.__context__
        current = cause


def _endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or "the AWS endpoint"


def _aws_sentence(error: BaseException) -> str | None:
    if isinstance(error, _UNREACHABLE):
        return (
            f"Cannot reach {_endpoint()}; start the local stack (`make run`) or check "
            "--endpoint-url and the network."
        )
    if isinstance(error, _NO_CREDENTIALS):
        return (
            "No AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or pass --endpoint-url for the local stack."
        )
    if isinstance(error, aws.NoRegionError):
        return "No AWS region set; set AWS_REGION (or AWS_DEFAULT_REGION)."
    if isinstance(error, aws.ClientError):
        return _refusal(error)
    return None


def _refusal(error: aws.ClientError) -> str:
    details = error.response.get("Error", {})
    code = details.get("Code", "Unknown")
    message = str(details.get("Message") or code).rstrip(".")
    if code in _AUTH_CODES:
        return f"AWS refused the credentials or the permission: {message} ({code})."
    if "NotFound" in code:
        return f"AWS has no such resource: {message} ({code})."
    return f"AWS answered {code}: {message}."


def describe(error: BaseException) -> str | None:
    """One sentence for a failure the operator can fix; None for a bug."""
    from pynamodb.exceptions import PynamoDBException, TableDoesNotExist

    from chalicelib.core.errors import DeskguardError
    from chalicelib.core.settings import get_settings
    from infra.errors import OperatorError

    for link in _chain(error):
        if isinstance(link, TableDoesNotExist) or (
            isinstance(link, PynamoDBException)
            and link.cause_response_code == "ResourceNotFoundException"
        ):
            return (
                f"A DynamoDB table of stage {get_settings().stage} does not exist; create the "
                "tables with `python -m cli tenants create-tables` or check DESKGUARD_STAGE."
            )
        sentence = _aws_sentence(link)
        if sentence is not None:
            return sentence
        if isinstance(link, DeskguardError):
            problems = "; ".join(
                f"{item.get('field', 'input')}: {item.get('message', item.get('issue', ''))}"
                for item in link.details or []
            )
            return f"{link.message.rstrip('.')} ({problems})." if problems else link.message
        if isinstance(link, OperatorError):
            return str(link)
    return None
