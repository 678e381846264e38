"""Chalice blueprints: parse the request, ask the policy, call a service, shape the response."""
