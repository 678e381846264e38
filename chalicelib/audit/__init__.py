"""The tamper-evident audit trail: write with the change, read, verify."""
