"""Authorizer JWT path: median verify time vs a bare PyJWT decode of the same token.

Cases, each timed over many calls on the same token, interleaved in rounds so machine noise hits
all alike:
- floor: `keys.decode_jwt(token, public_key, audience=..., issuer=...)`;
- authorizer verify: what `chalicelib.auth.authorizer.authenticate()` does for a session JWT
  (header parsing, kid lookup, full claim checks, Principal, revocation checks), with the one
  DynamoDB BatchGetItem answered from memory: that call's latency is the network's, not ours;
- full path on moto: the same with the BatchGetItem served by in-process moto (for information
  only; a real DynamoDB read is a few ms over the network).
Goal: authorizer verify / floor <= 1.5x. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
for _name in ("AWS_ENDPOINT_URL", "JWT_SIGNING_KEY_SECRET_ID", "JWT_KEYRING", "AWS_PROFILE"):
    os.environ.pop(_name, None)


def median_us(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()

    from moto import mock_aws

    with mock_aws():
        from chalicelib.auth import authorizer
        from chalicelib.auth.jwt_codec import decode_jwt
        from chalicelib.auth.sessions import issue_session
        from chalicelib.authz.principal import Role
        from chalicelib.core.keyring import keyring
        from chalicelib.core.settings import get_settings
        from chalicelib.identity import revocation, users
        from chalicelib.tables import create_tables

        create_tables()
        users.create_organization("bench-org", "Bench")
        user = users.create_user(
            "bench-org", email="b@bench.example", name="B", role=Role.AGENT, password="x" * 12
        )
        token = issue_session(user.id, "bench-org", Role.AGENT).token
        header = f"Bearer {token}"
        settings = get_settings()
        public_key = keyring().public_keys[keyring().active_kid]

        def floor() -> object:
            return decode_jwt(
                token,
                public_key,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
            )

        real_read = revocation.read_credential_state
        state = real_read("bench-org", user.id, jti="x")

        def verify_in_memory() -> object:
            revocation.read_credential_state = lambda *a, **k: state  # type: ignore[assignment]
            try:
                return authorizer.authenticate(header)
            finally:
                revocation.read_credential_state = real_read

        def full_on_moto() -> object:
            return authorizer.authenticate(header)

        assert verify_in_memory().user_id == user.id  # type: ignore[attr-defined]
        cases: dict[str, tuple[Callable[[], object], int]] = {
            "floor: bare jwt.decode": (floor, args.calls),
            "authorizer verify (state read in memory)": (verify_in_memory, args.calls),
            "full path, BatchGetItem on in-process moto": (full_on_moto, max(10, args.calls // 20)),
        }
        for fn, _ in cases.values():  # warm up
            fn()
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (fn, calls) in cases.items():
                results[name].append(median_us(fn, calls))

    floor_median = statistics.median(results["floor: bare jwt.decode"])
    print(f"Authorizer JWT path, {args.rounds} rounds, mean of {args.calls} calls per sample\n")
    print("| case | median us | p90 us | ratio to floor |")
    print("|---|---:|---:|---:|")
    for name, values in results.items():
        med = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"| {name} | {med:.1f} | {p90:.1f} | {med / floor_median:.2f}x |")
    print("\nGoal: authorizer verify <= 1.5x the floor.")


if __name__ == "__main__":
    main()
