"""Deskguard: wires the blueprints and the HTTP boundary. No logic lives here."""

from chalice.app import Chalice

from chalicelib.api.admin_groups import admin_groups_bp
from chalicelib.api.admin_mail import admin_mail_bp
from chalicelib.api.admin_security import admin_security_bp
from chalicelib.api.admin_settings import admin_settings_bp
from chalicelib.api.admin_sla import admin_sla_bp
from chalicelib.api.admin_tokens import admin_tokens_bp
from chalicelib.api.admin_users import admin_users_bp
from chalicelib.api.admin_webhooks import admin_webhooks_bp
from chalicelib.api.attachment_scanning import attachment_scanning_bp
from chalicelib.api.attachments import attachments_bp
from chalicelib.api.audit import audit_bp
from chalicelib.api.audit_chainer import audit_chainer_bp
from chalicelib.api.authorizer import authorizer_bp
from chalicelib.api.cors import register_preflight
from chalicelib.api.directory import directory_bp
from chalicelib.api.docs import docs_bp
from chalicelib.api.health import health_bp
from chalicelib.api.identity import identity_bp
from chalicelib.api.mail_intake import mail_intake_bp
from chalicelib.api.notifications import notifications_bp
from chalicelib.api.passwords import passwords_bp
from chalicelib.api.sla_sweep import sla_sweep_bp
from chalicelib.api.tickets import tickets_bp
from chalicelib.api.webhook_delivery import webhook_delivery_bp
from chalicelib.core import startup
from chalicelib.core.http import http_boundary

# configure_logs=False: Chalice would otherwise take over the "deskguard" logger (the Powertools
# service logger of the same name), set it to ERROR and drop every security event (WARNING).
app = Chalice(app_name="deskguard", configure_logs=False)
startup.check_at_init()  # inside Lambda: refuse a misconfigured deployment (one log line)
app.register_middleware(http_boundary, "http")
app.register_blueprint(authorizer_bp)
app.register_blueprint(health_bp, url_prefix="/api")
app.register_blueprint(identity_bp, url_prefix="/api")
app.register_blueprint(passwords_bp, url_prefix="/api")
app.register_blueprint(notifications_bp, url_prefix="/api")
app.register_blueprint(tickets_bp, url_prefix="/api")
app.register_blueprint(attachments_bp, url_prefix="/api")
app.register_blueprint(attachment_scanning_bp)
app.register_blueprint(admin_users_bp, url_prefix="/api")
app.register_blueprint(directory_bp, url_prefix="/api")
app.register_blueprint(admin_tokens_bp, url_prefix="/api")
app.register_blueprint(admin_security_bp, url_prefix="/api")
app.register_blueprint(admin_webhooks_bp, url_prefix="/api")
app.register_blueprint(admin_groups_bp, url_prefix="/api")
app.register_blueprint(admin_mail_bp, url_prefix="/api")
app.register_blueprint(admin_settings_bp, url_prefix="/api")
app.register_blueprint(admin_sla_bp, url_prefix="/api")
app.register_blueprint(audit_bp, url_prefix="/api")
app.register_blueprint(audit_chainer_bp)
app.register_blueprint(webhook_delivery_bp)
app.register_blueprint(sla_sweep_bp)
app.register_blueprint(mail_intake_bp)
app.register_blueprint(docs_bp, url_prefix="/api")
register_preflight(app)  # last: one CORS preflight view per path registered above
