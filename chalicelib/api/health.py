"""`GET /api/health`: liveness, no authentication."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.core.lazy import deferred_names
from chalicelib.core.settings import get_settings

if TYPE_CHECKING:  # imported on the route's first request (chalicelib.core.lazy)
    from chalicelib.core import schemas as models
else:
    models = deferred_names("chalicelib.core.schemas")

health_bp = Blueprint(__name__)


@api_route(
    health_bp,
    "/health",
    methods=["GET"],
    public=True,
    response=models.HealthOut,
    operation_id="getHealth",
)
def health(call: ApiCall) -> dict[str, Any]:
    return models.HealthOut.dump({"status": "ok", "stage": get_settings().stage})
