"""Deskguard application package (deployed with the Lambda bundle)."""
