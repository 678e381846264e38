"""The SLA breach sweep, every five minutes (`chalicelib.tickets.sla_sweep`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Rate

from chalicelib.core.lazy import lazy_module
from chalicelib.core.observability import traced

if TYPE_CHECKING:  # imported by the sweep's first run, not by every function's import
    from chalicelib.tickets import sla_sweep
else:
    sla_sweep = lazy_module("chalicelib.tickets.sla_sweep")

sla_sweep_bp = Blueprint(__name__)

SWEEP_FUNCTION = "sweep_sla_breaches"


@sla_sweep_bp.schedule(Rate(5, unit=Rate.MINUTES), name=SWEEP_FUNCTION)
def sweep_sla_breaches(event: Any) -> dict[str, int]:
    """Mark every overdue, unmet SLA target breached (one event and audit record each)."""
    with traced("## sweep_sla_breaches") as annotate:
        counts = dataclasses.asdict(sla_sweep.sweep())
        annotate(**counts)
    return counts
