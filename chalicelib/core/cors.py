"""CORS for browser front ends: exact origins from `ALLOWED_ORIGINS`, never a wildcard.

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed
  origin is answered 204 with `Access-Control-Allow-Origin: <that origin>`, the path's methods,
  the request headers the API reads, `Access-Control-Allow-Credentials: true` and a max age;
  from any other origin it is a 403 in the contract's shape without any `Access-Control-Allow-*`
  header, so the browser refuses the real request (`chalicelib.api.cors` serves the views).
- Every other response to an allowed origin carries `Access-Control-Allow-Origin`,
  `-Allow-Credentials` and `-Expose-Headers` (the headers a client reads: `ETag`, `Location`,
  `Retry-After`, `RateLimit-*`, `X-Request-Id`); a foreign origin gets none of them.
- Responses that depend on `Origin` say so with `Vary: Origin` (every response while any origin
  is configured), so no cache hands one origin's answer to another.

Credentials: the allowed origin is echoed exactly (browsers refuse `*` with credentials, and
echoing every origin would let any site read responses made with its visitor's cookie), so a
front end on an allowed origin may send the session cookie (`credentials: "include"`) as well as
a bearer token. The cookie is `SameSite=Strict`: browsers send it only from a same-site front end
(`app.example.com` calling `api.example.com`); a cross-site one must use `Authorization: Bearer`.
Cookie writes still need their `Origin` in the same list (the CSRF check).

An empty `ALLOWED_ORIGINS` (the default on deployed stages) means no CORS at all.
"""

from __future__ import annotations

import re

from chalicelib.core.settings import get_settings

ALLOW_HEADERS = ("Authorization", "Content-Type", "If-Match", "Idempotency-Key")
EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Request-Id",
)
MAX_AGE_SECONDS = 600
# scheme://host[:port], lower-case, no path, no wildcard: what a browser sends as `Origin`.
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(?::[0-9]{1,5})?$")


def origin_problem(origin: str, *, deployed: bool) -> str | None:
    """Why `origin` cannot be an `ALLOWED_ORIGINS` entry (None: it can)."""
    if not _ORIGIN.fullmatch(origin):
        return f"{origin!r} is not an exact origin (scheme://host[:port], lower case, no path)"
    if deployed and not origin.startswith("https://"):
        return f"{origin!r}: a deployed stage allows only https origins"
    return None


def allowed(origin: str | None) -> bool:
    """Whether `origin` (the request's `Origin` header) is one of ALLOWED_ORIGINS, exactly."""
    return bool(origin) and origin in get_settings().allowed_origins


def _vary() -> dict[str, str]:
    return {"Vary": "Origin"} if get_settings().allowed_origins else {}


def response_headers(origin: str | None) -> dict[str, str]:
    """The CORS headers of an ordinary (not preflight) response to a request from `origin`."""
    if origin is None or not allowed(origin):
        return _vary()
    return {
        **_vary(),
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": ", ".join(EXPOSE_HEADERS),
    }


def preflight_headers(origin: str, methods: list[str]) -> dict[str, str]:
    """The headers of the 204 answering an allowed origin's preflight of a path."""
    return {
        "Vary": "Origin",
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ", ".join(methods),
        "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
    }
