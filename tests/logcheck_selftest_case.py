"""Not collected by default (name does not match test_*.py): run only by
tests/unit/test_logcheck.py in a subprocess, to prove the log audit fails a leaking run."""

from __future__ import annotations

from chalicelib.core.observability import logger


def test_leaks_a_raw_email() -> None:
    logger.warning("user signed up", extra={"who": "leaky.person@example.org"})
