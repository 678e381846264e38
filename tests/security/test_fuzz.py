"""Schemathesis fuzzing of every documented operation, as every kind of caller, in-process.

The schema is the app's own generated OpenAPI document; requests go through the WSGI adapter
around the gateway emulation (authorizer, Gateway Responses, middleware), inside this test's moto
account. Cases are drawn by hypothesis from schemathesis' strategies for each (operation, caller,
positive/negative data) combination, within a total budget:

    FUZZ_MAX_EXAMPLES  total generated cases aimed at (default 1200)
    FUZZ_SEED          hypothesis seed (default: random, printed)

What every response must satisfy: no 5xx; a documented status, content type and headers; the body
valid against the documented schema (success bodies included: `additionalProperties: false` on
response models catches leaked fields); every 4xx body is the contract's error shape; the security
headers are present; data the schema forbids is rejected with a 4xx.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import random
import time
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib.api.openapi import generate
from chalicelib.authz.sessions import issue_session
from devstack.wsgi import GatewayWsgiApp
from tests.integration.test_foundation import CONTRACT_HEADERS

TOTAL_BUDGET = int(os.environ.get("FUZZ_MAX_EXAMPLES", "1200"))
SEED = int(os.environ.get("FUZZ_SEED") or random.randrange(2**32))
MIN_PER_COMBINATION = 5
MAX_ROUNDS = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def assert_contract_response(status: int, headers: dict[str, str], body: bytes) -> None:
    """The contract's own rules, checked independently of the document."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name, value in CONTRACT_HEADERS.items():
        assert lowered.get(name.lower()) == value, name
    assert "includeSubDomains" in lowered.get("strict-transport-security", "")
    assert "camera=()" in lowered.get("permissions-policy", "")
    assert lowered.get("x-request-id")
    assert status < 500, body[:500]
    if 400 <= status < 500:
        error = json.loads(body)
        assert set(error) == {"error"}, error
        assert set(error["error"]) <= {"code", "message", "details"}, error
        assert error["error"]["code"].isupper() and error["error"]["message"], error
        raw = body.decode()
        assert '"Code"' not in raw and "Traceback" not in raw


def modes(operation: dict[str, Any]) -> list[GenerationMode]:
    """Negative data only where the operation takes input (else there is nothing to negate and
    hypothesis would spend its whole allowance failing to find any)."""
    if operation.get("parameters") or operation.get("requestBody"):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


class Budget:
    """Spreads the total case budget over the combinations, round by round: a combination whose
    input space is exhausted (an operation without parameters) hands its share to the others."""

    def __init__(self, combinations: list[Any], total: int) -> None:
        self.open = list(combinations)
        self.total = total
        self.spent = 0

    def next_round(self) -> list[tuple[Any, int]]:
        remaining = self.total - self.spent
        if remaining <= 0 or not self.open:
            return []
        share = max(MIN_PER_COMBINATION, math.ceil(remaining / len(self.open)))
        return [(combination, share) for combination in self.open]

    def record(self, combination: Any, share: int, ran: int) -> None:
        self.spent += ran
        if ran < share:  # hypothesis ran out of distinct inputs: nothing more to draw here
            self.open.remove(combination)


def test_fuzz_every_operation_as_every_caller(app: Any, make_org: Any, capsys: Any) -> None:
    started = time.perf_counter()
    document = generate(app)
    schema = schemathesis.openapi.from_dict(document)
    wsgi_app = GatewayWsgiApp(app)
    org = make_org()
    users = {"REQUESTER": org.requester, "AGENT": org.agent, "ADMIN": org.admin}
    callers: dict[str, dict[str, str] | None] = {"anonymous": None}
    callers.update({role: {"Authorization": f"Bearer {u.token}"} for role, u in users.items()})

    def fresh_credential(caller: str) -> dict[str, str] | None:
        """A new session per case, so a fuzzed logout cannot silence the caller's later cases."""
        if caller not in users:
            return None
        user = users[caller]
        token = issue_session(user.id, user.organization_id, user.role).token
        return {"Authorization": f"Bearer {token}"}

    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document has no operations"
    combinations = [
        (operation, caller, mode)
        for operation in operations
        for caller in callers
        for mode in modes(document["paths"][operation.path][operation.method])
    ]
    statuses: collections.Counter[int] = collections.Counter()
    per_operation: collections.Counter[str] = collections.Counter()
    budget = Budget(combinations, TOTAL_BUDGET)

    for round_number in range(MAX_ROUNDS):
        plan = budget.next_round()
        if not plan:
            break
        for (operation, caller, mode), share in plan:
            ran = 0
            strategy = operation.as_strategy(generation_mode=mode, headers=callers[caller])

            @hypothesis.seed(SEED + round_number)
            @settings(
                max_examples=share,
                deadline=None,
                database=None,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                nonlocal ran
                ran += 1
                # run() executes within this iteration, so the loop variable is current.
                response = case.call(app=wsgi_app, headers=fresh_credential(caller))  # noqa: B023
                assert_contract_response(
                    response.status_code,
                    {k: v[0] for k, v in response.headers.items()},
                    response.content,
                )
                case.validate_response(response, checks=CHECKS)
                statuses[response.status_code] += 1
                per_operation[case.operation.label] += 1

            # Unsatisfiable: no negative data exists for this operation and caller.
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                run()
            budget.record((operation, caller, mode), share, ran)

    cases = sum(statuses.values())
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\nfuzz: {cases} cases in {elapsed:.1f}s (seed {SEED}, budget {TOTAL_BUDGET}); "
            f"statuses {dict(sorted(statuses.items()))}; per operation {dict(per_operation)}"
        )
    assert not [status for status in statuses if status >= 500]
    assert set(per_operation) == {operation.label for operation in operations}
    if "FUZZ_MAX_EXAMPLES" not in os.environ:
        assert cases >= 1000, "the default budget must reach 1,000 generated cases"


@pytest.mark.parametrize("raw", ["{", "[]", '"x"', "\xff"])
def test_adapter_carries_raw_bodies_like_a_client(app: Any, raw: str) -> None:
    """The adapter itself: what the fuzzer sends reaches the app unchanged (a broken adapter
    would make every fuzz case a 400/404 and the run vacuous)."""
    from werkzeug.test import Client

    client = Client(GatewayWsgiApp(app))
    bad = client.post("/api/auth/login", data=raw, content_type="application/json")
    assert bad.status_code == 400
    assert json.loads(bad.get_data())["error"]["code"] == "VALIDATION_ERROR"
    good = client.get("/api/health?x=1")
    assert good.status_code == 200 and json.loads(good.get_data())["status"] == "ok"
    assert good.headers["X-Frame-Options"] == "DENY"
