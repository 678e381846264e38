"""The failures of the operator tools that an operator can fix, each told in one sentence.

`python -m cli` prints the sentence and exits 1 instead of showing a traceback; anything else is a
bug in the tools and keeps its traceback.
"""

from __future__ import annotations


class OperatorError(Exception):
    """A failure the operator can fix (unknown stage, no keyring yet, unknown kid, ...)."""
