"""Identity management: organizations, users, passwords, API tokens, revocation."""
