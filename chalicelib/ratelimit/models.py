"""The rate-limit table: one fixed-window counter per item, expired by DynamoDB TTL."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta


class RateLimitItem(Model):
    """One fixed-window counter: `pk` = `<subject>#<scope>#<class>#W<window start>`."""

    Meta = table_meta("ratelimit", connect_timeout_seconds=1, read_timeout_seconds=2)
    pk = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute(default=0)
    expires_at = TTLAttribute()


class LoginSlowdownItem(Model):
    """One account's failed logins in a window: `pk` = `ACCT#<email hash>#LOGINSLOW#W<start>`.

    `last_failure_at` (epoch seconds) and `failures` give the slow-down's end
    (`limiter.login_delay_seconds`); in the same table as the counters."""

    Meta = table_meta("ratelimit", connect_timeout_seconds=1, read_timeout_seconds=2)
    pk = UnicodeAttribute(hash_key=True)
    failures = NumberAttribute(default=0)
    last_failure_at = NumberAttribute(default=0)
    expires_at = TTLAttribute()
