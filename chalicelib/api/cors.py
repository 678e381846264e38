"""CORS preflight views: one `OPTIONS` per path, answered without credentials (browsers send
preflights without them), from the rules in `chalicelib.core.cors`.

`register_preflight(app)` runs after every blueprint is registered. Each path gets a real
`OPTIONS` route, so API Gateway (where a path without the method never reaches the function)
and the local gateway (which would answer a bare 200 itself) both hand preflights to the app,
and the HTTP boundary adds the security headers. These views are transport, not operations:
the OpenAPI document leaves them out; the RBAC table lists them as public.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chalice.app import Chalice, Response

from chalicelib.core import cors
from chalicelib.core.errors import Forbidden
from chalicelib.core.http import error_response

METHOD = "OPTIONS"


class OriginRefused(Forbidden):
    default_message = "This origin may not call the API from a browser."


def _view(app: Chalice, path: str, methods: list[str]) -> Callable[..., Response]:
    allow = ", ".join([*methods, METHOD])

    def preflight(**_path_params: str) -> Response:
        request = app.current_request
        headers = request.headers if request is not None else {}
        origin = headers.get("origin")
        if not origin or not headers.get("access-control-request-method"):
            # Not a preflight: say what the path serves.
            return Response(body="", status_code=204, headers={"Allow": allow})
        if not cors.allowed(origin):
            response = error_response(OriginRefused())
            response.headers["Vary"] = "Origin"
            return response
        return Response(
            body="",
            status_code=204,
            headers={"Allow": allow, **cors.preflight_headers(origin, [*methods, METHOD])},
        )

    preflight.__name__ = "preflight_" + (re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_"))
    return preflight


def register_preflight(app: Chalice) -> None:
    """Add the `OPTIONS` view of every path the app serves (call once, after the blueprints)."""
    for path in sorted(app.routes):
        methods = sorted(method for method in app.routes[path] if method != METHOD)
        if methods and METHOD not in app.routes[path]:
            app.route(path, methods=[METHOD])(_view(app, path, methods))
