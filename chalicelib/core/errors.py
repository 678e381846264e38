"""Typed domain errors and the one place that turns any error into the contract's JSON shape.

Domain code raises these; `chalicelib.api.routing` catches them at the HTTP boundary and
`chalicelib.core.http` reshapes anything Chalice produced itself. Nothing else builds error bodies.
"""

from __future__ import annotations

from typing import Any


class DeskguardError(Exception):
    """Base of every error that has a defined HTTP meaning."""

    status = 500
    code = "INTERNAL"
    default_message = "An internal error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(DeskguardError):
    status = 400
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid."


class Unauthenticated(DeskguardError):
    status = 401
    code = "UNAUTHENTICATED"
    default_message = "Authentication is required."


class ForgedCredential(Unauthenticated):
    """A credential that names a real key or token but fails its check: forged, not stale.

    Answered like any 401; the authorizer reports it to containment (per source IP)."""


class Forbidden(DeskguardError):
    status = 403
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class NotFound(DeskguardError):
    """Also raised for another organization's objects, so existence never leaks."""

    status = 404
    code = "NOT_FOUND"
    default_message = "Not found."


class MethodNotAllowed(DeskguardError):
    status = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "This method is not allowed on this resource."


class Conflict(DeskguardError):
    status = 409
    code = "CONFLICT"
    default_message = "The resource changed or is in a state that does not allow this."


class PayloadTooLarge(DeskguardError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large."


class UnsupportedMediaType(DeskguardError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "The request body must be JSON (application/json)."


class PreconditionRequired(DeskguardError):
    """A conditional write sent without its precondition (`If-Match`), RFC 6585."""

    status = 428
    code = "PRECONDITION_REQUIRED"
    default_message = "This request must be conditional: send If-Match with the version read."


class RateLimited(DeskguardError):
    status = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests; retry later."


class ServiceUnavailable(DeskguardError):
    """A transient failure that persisted through retries (always sent with `Retry-After`)."""

    status = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "The service is busy; retry later."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, details=details, headers={"Retry-After": "1", **(headers or {})})


class Internal(DeskguardError):
    """Generic 500: the message never says what went wrong."""


# Chalice's own error codes (from `{"Code": ..., "Message": ...}` bodies) mapped to ours.
CHALICE_CODE_TO_ERROR: dict[str, type[DeskguardError]] = {
    "BadRequestError": ValidationFailed,
    "BadRequest": ValidationFailed,
    "UnauthorizedError": Unauthenticated,
    "ForbiddenError": Forbidden,
    "NotFoundError": NotFound,
    "MethodNotAllowedError": MethodNotAllowed,
    "ConflictError": Conflict,
    "RequestTimeoutError": Internal,
    "TooManyRequestsError": RateLimited,
    "UnprocessableEntityError": ValidationFailed,
    "UnsupportedMediaType": UnsupportedMediaType,
    "InternalServerError": Internal,
}


def error_body(error: DeskguardError) -> dict[str, Any]:
    """The contract's error body for an error: `{"error": {"code", "message"[, "details"]}}`."""
    payload: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details:
        payload["details"] = error.details
    return {"error": payload}


def error_for_status(status: int) -> DeskguardError:
    """A generic error for a bare HTTP status (used for responses nobody shaped)."""
    for cls in (
        ValidationFailed,
        Unauthenticated,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        PreconditionRequired,
        RateLimited,
        ServiceUnavailable,
    ):
        if cls.status == status:
            return cls()
    return ValidationFailed() if 400 <= status < 500 else Internal()
