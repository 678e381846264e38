"""Tickets domain: tickets, comments, attachments (services and pynamodb models)."""
