"""`GET /api/health`: liveness, no authentication."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.core.schemas import Out
from chalicelib.core.settings import get_settings

health_bp = Blueprint(__name__)


class HealthOut(Out):
    status: str
    stage: str


@api_route(
    health_bp,
    "/health",
    methods=["GET"],
    public=True,
    response=HealthOut,
    operation_id="getHealth",
)
def health(call: ApiCall) -> dict[str, Any]:
    return HealthOut.dump({"status": "ok", "stage": get_settings().stage})
