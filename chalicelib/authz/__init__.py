"""Identity: passwords, sessions, API tokens, the authorizer, RBAC and organization scope."""
