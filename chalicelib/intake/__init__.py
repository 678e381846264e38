"""Inbound mail: SES stores each received message in S3; this package tickets it."""
