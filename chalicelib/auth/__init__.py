"""Authentication: session JWTs, the authorizer, API-token verification, containment."""
