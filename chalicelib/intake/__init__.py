"""Inbound mail: SES stores the raw message in S3, this package turns it into tickets and comments."""
