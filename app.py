"""Deskguard: wires the blueprints and the HTTP boundary. No logic lives here."""

from chalice.app import Chalice

from chalicelib.api.authorizer import authorizer_bp
from chalicelib.api.docs import docs_bp
from chalicelib.api.health import health_bp
from chalicelib.api.identity import identity_bp
from chalicelib.core.http import http_boundary

app = Chalice(app_name="deskguard")
app.register_middleware(http_boundary, "http")
app.register_blueprint(authorizer_bp)
app.register_blueprint(health_bp, url_prefix="/api")
app.register_blueprint(identity_bp, url_prefix="/api")
app.register_blueprint(docs_bp, url_prefix="/api")
