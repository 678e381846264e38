"""The security headers every response carries, errors included.

Used by the HTTP middleware for responses the app makes, and by the deploy template and the local
gateway for responses API Gateway makes itself (unknown route, authorizer denial, throttling).
"""

from __future__ import annotations

from chalicelib.core.settings import get_settings

_STATIC = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": (
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        "microphone=(), payment=(), usb=(), interest-cohort=()"
    ),
    "Cache-Control": "no-store",
}
HSTS = "max-age=63072000; includeSubDomains"


def security_headers() -> dict[str, str]:
    """The headers to add to every response (HSTS unless disabled for plain-HTTP local use)."""
    headers = dict(_STATIC)
    if get_settings().hsts_enabled:
        headers["Strict-Transport-Security"] = HSTS
    return headers
