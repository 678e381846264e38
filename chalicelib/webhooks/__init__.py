"""Signed webhooks: endpoints an admin registers, events the domains emit, signed deliveries.

`models.py` (the `webhooks` table), `events.py` (what the domains call to emit an event: an
outbox item in the change's own transaction), `endpoints.py` (the admin service), `signing.py`
(the `X-Deskguard-Signature` header), `transport.py` (the SSRF-safe HTTP client) and
`delivery.py` (fan-out, attempts, backoff, the delivery log, redelivery, the pump).
"""
