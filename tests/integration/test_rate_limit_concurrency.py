"""8 threads on one limit key: never more admitted than the limit.

moto's in-process backend is plain Python and not atomic per API call across threads (real
DynamoDB is). The `atomic_dynamodb` fixture makes each DynamoDB API call atomic, as in AWS, so
any race that remains is in the limiter's own protocol. The control test proves the harness
does detect a read-then-write limiter.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from chalicelib.ratelimit import limiter as ratelimit

THREADS = 8
HITS_PER_THREAD = 20
NOW = 1_800_000_000.0


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    lock = threading.RLock()
    for name in ("get_item", "put_item", "update_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            # moto returns the stored item itself and serializes it after the call: copy it
            # under the lock, so the response is the state this call left (as in DynamoDB),
            # not one a later thread's update already changed.
            with lock:
                return copy.deepcopy(_original(*args, **kwargs))

        monkeypatch.setattr(DynamoDBBackend, name, locked)
    yield


def _hammer(hit: Callable[[], bool], per_thread: int) -> list[bool]:
    barrier = threading.Barrier(THREADS)
    results: list[bool] = []
    results_lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                admitted = hit()
                with results_lock:
                    results.append(admitted)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_eight_threads_never_exceed_the_limit(client: Any, atomic_dynamodb: None) -> None:
    limit = ratelimit.Limit(25, 3600)
    decisions: list[ratelimit.Decision] = []
    lock = threading.Lock()

    def hit() -> bool:
        decision = ratelimit.hit("TEST#concurrency", limit, now=NOW)
        with lock:
            decisions.append(decision)
        return decision.admitted

    results = _hammer(hit, HITS_PER_THREAD)
    assert len(results) == THREADS * HITS_PER_THREAD
    assert sum(results) == limit.requests  # exactly the limit, never more
    assert sum(d.first_violation for d in decisions) == 1
    # Each admitted request saw a distinct remaining count: no two read the same counter value.
    remaining = sorted(d.remaining for d in decisions if d.admitted)
    assert remaining == list(range(limit.requests))
    window_start = int(NOW) - int(NOW) % limit.window_seconds
    item = ratelimit.RateLimitItem.get(f"TEST#concurrency#W{window_start}")
    assert int(item.hits) == limit.requests + 1  # the counter stops at limit+1


def test_harness_catches_a_read_then_write_limiter(client: Any, atomic_dynamodb: None) -> None:
    """Control: the same harness against a naive get-then-put limiter admits too many."""
    limit = 3
    key = "TEST#racy"
    ratelimit.RateLimitItem(key, hits=0, expires_at=ratelimit.datetime.now(ratelimit.UTC)).save()

    def racy_hit() -> bool:
        item = ratelimit.RateLimitItem.get(key, consistent_read=True)
        if int(item.hits) >= limit:
            return False
        time.sleep(0.05)  # the gap between read and write every racy limiter has
        item.hits = int(item.hits) + 1
        item.save()
        return True

    results = _hammer(racy_hit, 1)
    assert sum(results) > limit
