"""Cold start: median time to `import app` in a fresh interpreter vs `import chalice, boto3`.

Prints a markdown table (`--json`: rows for bench/run_all.py). Each sample is a new `python -c`
process timed from the inside (import only, interpreter start-up excluded); samples of the kinds
alternate so machine noise hits all alike. Goals: the API function's import <= 1.5x the floor,
the authorizer's <= 1.25x.

The "first request" row is `import app` plus the first `GET /api/tickets` through the local
gateway (the authorizer's verification, the route and its DynamoDB calls to a moto server the
benchmark starts), in a fresh interpreter: what the first request after a cold start pays beyond
the interpreter itself. It runs the authorizer in the same process, which a deployed stage does
in its own function, so it is an upper bound for the API function.

What Lambda runs, not what this machine happens to have:

- Bytecode: the package build (`infra/package.py`) ships each module's `.pyc`, so Lambda loads
  bytecode (its code directory is read-only: without them it would compile every module from
  source on each cold start). This environment may set `PYTHONDONTWRITEBYTECODE`, and the
  repository keeps no `__pycache__`, so the benchmark gives its samples a private bytecode cache
  (`PYTHONPYCACHEPREFIX`, a temporary directory), compiles `app.py`, `chalicelib/` and
  `devstack/` into it, and lets the untimed warm-up sample of each case fill it for the
  installed packages. Every timed sample then loads bytecode, as the deployed function does.
- Test-only packages: the venv holds what the tests need (`requirements-dev.txt`), the bundle
  only the closure of `requirements.txt`. PyJWT imports `cryptography` when it is importable
  (JWK and x509 support the app does not use; it signs with PyNaCl), which costs tens of ms;
  `cryptography` is not in the bundle's closure (the benchmark checks that with
  `importlib.metadata` before hiding it), so each sample marks it absent
  (`sys.modules[name] = None`: `import` raises ModuleNotFoundError, as it would in Lambda).

The component rows are marginal costs: the import timed after `import chalice, boto3`, in a fresh
process, so they say what each dependency adds on top of the floor. The authorizer's row is its
Lambda's own import: Chalice names a blueprint's function after the blueprint's module
(`chalicelib.api.authorizer.deskguard_request_authorizer`), so that function never imports
`app.py`; "the authorizer's libraries alone" is the part of it that is third-party code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Installed here for the tests, absent from the Lambda bundle, imported by a runtime dependency
# when present (PyJWT: `cryptography`). Checked against requirements.txt by `hidden_packages`.
TEST_ONLY = ("cryptography",)
TIMER = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
MARGINAL = (
    "import chalice, boto3, time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
)
FLOOR = "floor: import chalice, boto3"
APP = "app: import app"
CASES = {FLOOR: (TIMER, "import chalice, boto3"), APP: (TIMER, "import app")}
COMPONENTS = {
    "+ pydantic (BaseModel)": "from pydantic import BaseModel, Field",
    "+ PyJWT, PyNaCl (Ed25519)": "import jwt, nacl.signing",
    "+ pynamodb": "import pynamodb.models, pynamodb.transactions",
    "+ Powertools Logger": "import aws_lambda_powertools.logging",
    "+ authorizer's own imports": "import chalicelib.api.authorizer",
    # What the authorizer cannot leave out: its one read, its log lines, Ed25519 and the JWT.
    "+ the authorizer's libraries alone": (
        "import pynamodb.models, aws_lambda_powertools.logging, nacl.signing, jwt.api_jws"
    ),
}


FIRST = "app: import app + first GET /api/tickets"
FIRST_REQUEST = (
    "import time; t = time.perf_counter(); import app; from devstack.client import ApiClient; "
    "r = ApiClient(app.app).get('/api/tickets', token={token!r}); "
    "assert r.status == 200, r.status; print(time.perf_counter() - t)"
)
# Marks the test-only packages absent in each sample; set by `measure`.
_PRELUDE = ""
# Set by `first_request_env`: the moto server's address and the session the first request uses.
_first_request: dict[str, str] = {}


def first_request_env() -> dict[str, str]:
    """Start a moto server with the tables, one organization and an agent; return the environment
    a fresh interpreter needs to call the API against it, with the agent's session token."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    sys.path.insert(0, str(ROOT))
    from chalicelib.core.keyring import generate_keyring_json

    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # pragma: allowlist secret
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "DESKGUARD_STAGE": "local",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "RATE_LIMIT_ENABLED": "false",
        "JWT_KEYRING": generate_keyring_json(),
    }
    os.environ.update(env)
    setup = (
        "import secrets, app; from chalicelib.tables import create_tables; "
        "from chalicelib.identity import users; from chalicelib.authz.principal import Role; "
        "from devstack.client import ApiClient; create_tables(); "
        "users.create_organization('bench', 'Bench'); pw = secrets.token_urlsafe(16); "
        "users.create_user('bench', email='agent@bench.example', name='Agent', "
        "role=Role.AGENT, password=pw); "
        "r = ApiClient(app.app).post('/api/auth/login', json={'organization': 'bench', "
        "'email': 'agent@bench.example', 'password': pw}); print(r.json['token'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", setup],
        cwd=ROOT,
        env=dict(os.environ),
        check=True,
        capture_output=True,
        text=True,
    )
    env["TOKEN"] = out.stdout.strip().splitlines()[-1]
    return env


def _requirement_name(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    match = re.match(r"[A-Za-z0-9._-]+", line)
    return match.group(0) if match else None


def runtime_closure() -> set[str]:
    """The normalized names of requirements.txt and everything they require (installed here),
    extras and environment markers that do not apply left out: what the bundle can contain."""

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    pending = [
        name
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if (name := _requirement_name(line))
    ]
    seen: set[str] = set()
    while pending:
        name = norm(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            dep = _requirement_name(requirement)
            if dep:
                pending.append(dep)
    return seen


def hidden_packages() -> tuple[str, ...]:
    """TEST_ONLY, after checking that none of them is in the bundle's dependency closure."""
    closure = runtime_closure()
    bundled = [name for name in TEST_ONLY if name in closure]
    if bundled:
        raise SystemExit(f"{bundled} are runtime dependencies: the benchmark must not hide them")
    return TEST_ONLY


# A private bytecode cache for every sample (see the module docstring); set by `prepare`.
_bytecode: dict[str, str] = {}


def prepare_bytecode() -> None:
    """Point the samples at a fresh bytecode cache and compile the project's modules into it."""
    prefix = tempfile.mkdtemp(prefix="cold-start-pyc-")
    _bytecode["PYTHONPYCACHEPREFIX"] = prefix
    env = dict(os.environ, PYTHONPYCACHEPREFIX=prefix)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "app.py", "chalicelib", "devstack"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def _hide_prelude() -> str:
    names = hidden_packages()
    return "import sys; " + "".join(f"sys.modules[{name!r}] = None; " for name in names)


def sample(template: str, stmt: str) -> float:
    env = dict(os.environ, DESKGUARD_STAGE="bench", POWERTOOLS_TRACE_DISABLED="true")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(_bytecode)
    env["JWT_KEYRING"] = env.get("JWT_KEYRING", "")
    if stmt == FIRST:
        env.update(_first_request)
        template = FIRST_REQUEST.replace("{token!r}", repr(_first_request["TOKEN"]))
        stmt = ""
    out = subprocess.run(
        [sys.executable, "-c", _PRELUDE + template.format(stmt=stmt)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure(runs: int) -> dict[str, list[float]]:
    global _PRELUDE
    _PRELUDE = _hide_prelude()
    prepare_bytecode()
    _first_request.update(first_request_env())
    cases = {
        **CASES,
        FIRST: (FIRST_REQUEST, FIRST),
        **{name: (MARGINAL, stmt) for name, stmt in COMPONENTS.items()},
    }
    for template, stmt in cases.values():  # warm the file cache and .pyc files
        sample(template, stmt)
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (template, stmt) in cases.items():
            results[name].append(sample(template, stmt))
    return results


def rows(results: dict[str, list[float]]) -> list[dict[str, str]]:
    floor = statistics.median(results[FLOOR])
    app = statistics.median(results[APP])
    out = [
        {
            "area": "cold start",
            "measure": (
                f"import app / import chalice, boto3 ({app * 1000:.0f} / {floor * 1000:.0f} ms)"
            ),
            "value": f"{app / floor:.2f}x",
            "goal": "<= 1.5x",
            "met": "yes" if app / floor <= 1.5 else "no",
        }
    ]
    first = statistics.median(results[FIRST])
    out.append(
        {
            "area": "cold start",
            "measure": "import app + first GET /api/tickets (authorizer in process, moto server)",
            "value": f"{first / floor:.2f}x ({first * 1000:.0f} ms)",
            "goal": "reported",
            "met": "",
        }
    )
    authorizer = floor + statistics.median(results["+ authorizer's own imports"])
    out.append(
        {
            "area": "cold start",
            "measure": (
                "authorizer Lambda: its handler's module chalicelib.api.authorizer "
                "(floor + its row below)"
            ),
            "value": f"{authorizer / floor:.2f}x",
            "goal": "<= 1.25x",
            "met": "yes" if authorizer / floor <= 1.25 else "no",
        }
    )
    for name in COMPONENTS:
        out.append(
            {
                "area": "cold start",
                "measure": f"marginal import {name}",
                "value": f"{statistics.median(results[name]) * 1000:.1f} ms",
                "goal": "",
                "met": "",
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true", help="rows for bench/run_all.py")
    args = parser.parse_args()
    results = measure(args.runs)
    if args.json:
        print(json.dumps(rows(results)))
        return
    floor = statistics.median(results[FLOOR])
    print(f"Cold start, {args.runs} runs each, fresh interpreter per run\n")
    print("| case | median ms | p90 ms | ratio to floor |")
    print("|---|---:|---:|---:|")
    for name, values in results.items():
        med = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        ratio = f"{med / floor:.2f}x" if name in CASES or name == FIRST else "(marginal)"
        print(f"| {name} | {med * 1000:.1f} | {p90 * 1000:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
