"""What a fresh interpreter loads when a Lambda function imports its module (no timing here).

The API function must not load the Markdown renderer, the sanitizer, the idempotency machinery
or the attachment scanning pipeline until a request needs them; the authorizer's module must not
load the ticket or attachment domain. Each check runs in a new interpreter, as a cold start does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    env = dict(os.environ, DESKGUARD_STAGE="test", POWERTOOLS_TRACE_DISABLED="true")
    out = subprocess.run(  # noqa: S603 (our own interpreter, a fixed statement)
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def under(modules: set[str], *prefixes: str) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


def test_importing_the_app_leaves_the_heavy_request_paths_unloaded() -> None:
    modules = loaded_after("import app")
    assert "app" in modules and "chalicelib.api.tickets" in modules  # the routes are registered
    heavy = under(
        modules,
        "markdown",
        "nh3",
        "chalicelib.attachments.scanning.pipeline",
        "chalicelib.attachments.scanning.definitions",
        "chalicelib.attachments.scanning.engine",
        "chalicelib.attachments.scanning.clamd",
        "chalicelib.tickets.idempotency",
        "aws_lambda_powertools.utilities.idempotency",
    )
    assert heavy == set()


def test_the_heavy_modules_load_on_first_use() -> None:
    modules = loaded_after(
        "import app; from chalicelib.tickets.markdown_render import render_markdown; "
        "render_markdown('*hi*')"
    )
    assert {"markdown", "nh3"} <= modules


def test_the_authorizer_module_does_not_load_the_ticket_or_attachment_domain() -> None:
    modules = loaded_after("import chalicelib.api.authorizer")
    assert "chalicelib.auth.authorizer" in modules
    domain = under(modules, "chalicelib.tickets", "chalicelib.attachments", "markdown", "nh3")
    assert domain == set()


def test_the_authorizer_module_leaves_pydantic_token_management_and_audit_writes_unloaded() -> None:
    modules = loaded_after("import chalicelib.api.authorizer")
    assert "chalicelib.identity.api_token_format" in modules  # what verifying a token needs
    write_side = under(
        modules,
        "pydantic",
        "chalicelib.core.list_query",
        "chalicelib.identity.api_tokens",
        "chalicelib.audit",
        "pynamodb.transactions",
        "chalicelib.auth.containment",  # loads on the first forged credential
        "chalicelib.ratelimit",
    )
    assert write_side == set()


def test_importing_the_app_loads_no_model_nor_any_route_s_domain_service() -> None:
    """Registering the routes names their models and services; the first request imports them."""
    modules = loaded_after("import app")
    assert "chalicelib.api.admin_webhooks" in modules  # every route module is registered
    deferred = under(modules, "pydantic", "pydantic_core", "chalicelib.core.list_query")
    deferred |= {m for m in modules if m.startswith("chalicelib.") and m.endswith("schemas")}
    deferred |= under(
        modules,
        "chalicelib.tickets.service",
        "chalicelib.tickets.bulk",
        "chalicelib.tickets.merge",
        "chalicelib.tickets.sla",
        "chalicelib.attachments.service",
        "chalicelib.webhooks.delivery",
        "chalicelib.webhooks.endpoints",
        "chalicelib.intake",
        "chalicelib.audit.chainer",
        "chalicelib.identity.password_flows",
        "aws_lambda_powertools.utilities.data_classes",
    )
    assert deferred == set()


def test_a_route_s_declared_models_load_when_they_are_used() -> None:
    """The OpenAPI document (and a request) resolves the references a route was declared with."""
    modules = loaded_after(
        "import app; from chalicelib.api.routing import route_doc; "
        "doc = route_doc(app.app.routes['/api/tickets']['GET'].view_function); "
        "assert doc is not None and doc.query.__name__ == 'ListTicketsQuery'"
    )
    assert {"pydantic", "chalicelib.tickets.schemas", "chalicelib.core.list_query"} <= modules
