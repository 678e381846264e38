"""The identity, password, user, token, directory, notification and health route modules load
neither pydantic, nor a schemas module, nor the services behind their routes when they are
imported (the API function's cold start); a route's first request loads them. Each check runs in
a new interpreter, as a cold start does."""

from __future__ import annotations

import pytest

from tests.unit.test_lazy_imports import loaded_after, under

ROUTE_MODULES = [
    "chalicelib.api.identity",
    "chalicelib.api.passwords",
    "chalicelib.api.admin_users",
    "chalicelib.api.admin_tokens",
    "chalicelib.api.directory",
    "chalicelib.api.notifications",
    "chalicelib.api.health",
]


@pytest.mark.parametrize("module", ROUTE_MODULES)
def test_importing_the_route_module_loads_no_model_or_service(module: str) -> None:
    modules = loaded_after(f"import {module}")
    assert module in modules
    deferred = under(
        modules,
        "pydantic",
        "chalicelib.core.list_query",
        "chalicelib.identity.users",
        "chalicelib.identity.password_flows",
        "chalicelib.identity.api_tokens",
        "chalicelib.identity.notification_preferences",
        "chalicelib.notifications",
        "chalicelib.audit",
    )
    schemas = {m for m in modules if m.endswith("schemas")}
    assert deferred | schemas == set()


def test_the_first_request_loads_the_models_its_route_uses() -> None:
    modules = loaded_after(
        "from chalice.app import Chalice; from chalice.test import Client; "
        "from chalicelib.api.health import health_bp; "
        "from chalicelib.core.http import http_boundary; "
        "app = Chalice(app_name='lazy-check'); app.register_middleware(http_boundary, 'http'); "
        "app.register_blueprint(health_bp, url_prefix='/api'); "
        "assert 'pydantic' not in sys.modules and 'chalicelib.core.schemas' not in sys.modules; "
        "client = Client(app); response = client.http.get('/api/health'); "
        "assert response.status_code == 200, response.body; "
        "assert json.loads(response.body) == {'status': 'ok', 'stage': 'test'}, response.body"
    )
    assert {"pydantic", "chalicelib.core.schemas"} <= modules


def test_the_unsubscribe_route_is_the_path_the_mails_link_to() -> None:
    from chalicelib.api.notifications import UNSUBSCRIBE_ROUTE
    from chalicelib.notifications.unsubscribe import UNSUBSCRIBE_PATH

    assert "/api" + UNSUBSCRIBE_ROUTE == UNSUBSCRIBE_PATH
