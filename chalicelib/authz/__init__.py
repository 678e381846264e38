"""Authorization: the RBAC route table and the `Principal` every service receives."""
