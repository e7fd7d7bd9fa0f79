"""Customer limits: which scope denies first, exact bodies and headers, Retry-After, concurrency."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from spanlens_pipeline.errors import RateLimited
from spanlens_pipeline.extensions.ratelimit.limiter import rejected_total

from .helpers import Clock, denied, limiter, tenant

UNLIMITED = {"default_plan": "enterprise", "plans": {"enterprise": {"ceiling_per_minute": None}}}


def rules(*items):
    return {**UNLIMITED, "limits": [dict(zip(("scope", "requests", "window"), i[:3]), **(i[3] if len(i) > 3 else {}))
                                    for i in items]}


def test_end_user_then_api_key_then_project_each_deny_with_exact_body_and_headers():
    clock = Clock()
    lim = limiter(rules(("end_user", 2, "60s"), ("api_key", 3, "60s"), ("project", 4, "60s")), clock)
    k1, k2 = tenant(key="key-1"), tenant(key="key-2")
    before = rejected_total.value(source="customer_limit", scope="end_user")

    lim.check(k1, "user_123")
    lim.check(k1, "user_123")
    err = denied(lim, k1, "user_123")
    assert err.status == 429 and err.code == "RATE_LIMIT"
    assert err.message == "Customer-configured rate limit exceeded (end_user): 2 requests per 60s."
    assert err.details == {"source": "customer_limit", "scope": "end_user", "limit": 2, "window_seconds": 60,
                           "end_user_id": "user_123"}
    # Two calls used the whole burst: one passes again after 30 s; the bucket is full after 60 s.
    assert err.headers == {"Retry-After": "30", "X-Spanlens-RateLimit-Scope": "end_user",
                           "X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0",
                           "X-RateLimit-Reset": str(int(clock.wall_s) + 60), "X-RateLimit-Window": "60",
                           "X-RateLimit-Scope": "end_user"}
    assert "upgrade_url" not in err.details
    assert rejected_total.value(source="customer_limit", scope="end_user") == before + 1

    lim.check(k1, "user_456")  # third call of key-1: the api_key limit is now spent
    err = denied(lim, k1, "user_789")
    assert err.details == {"source": "customer_limit", "scope": "api_key", "limit": 3, "window_seconds": 60}
    assert err.headers["X-Spanlens-RateLimit-Scope"] == "api_key" and err.headers["Retry-After"] == "20"
    assert err.message == "Customer-configured rate limit exceeded (api_key): 3 requests per 60s."

    lim.check(k2)  # fourth call of the project
    err = denied(lim, k2)
    assert err.details == {"source": "customer_limit", "scope": "project", "limit": 4, "window_seconds": 60}
    assert err.headers["X-Spanlens-RateLimit-Scope"] == "project" and err.headers["Retry-After"] == "15"


def test_denied_calls_consume_nothing():
    clock = Clock()
    lim = limiter(rules(("end_user", 1, "10s"), ("project", 3, "10s")), clock)
    t = tenant()
    lim.check(t, "a")
    for _ in range(5):
        denied(lim, t, "a")  # refused by end_user: must not spend the project's budget
    lim.check(t, "b")
    lim.check(t, "c")
    assert denied(lim, t, "d").details["scope"] == "project"


def test_end_user_limit_applies_only_when_the_header_is_sent():
    lim = limiter(rules(("end_user", 1, "60s")))
    t = tenant()
    for _ in range(5):
        lim.check(t, None)
    lim.check(t, "u")
    assert denied(lim, t, "u").details["end_user_id"] == "u"


def test_retry_after_is_honoured_and_never_longer_than_the_window():
    clock = Clock()
    lim = limiter(rules(("api_key", 5, "10s")), clock)
    t = tenant()
    for _ in range(5):
        lim.check(t)
    err = denied(lim, t)
    wait = int(err.headers["Retry-After"])
    assert wait == 2  # one call every 10/5 s
    clock.advance(wait - 1)
    denied(lim, t)
    clock.advance(1)
    headers = lim.check(t)
    assert headers["X-RateLimit-Remaining"] == "0" and headers["X-RateLimit-Scope"] == "api_key"
    # A 1-per-window limit: Retry-After equals the window, never more.
    lim = limiter(rules(("api_key", 1, "7s")), clock)
    lim.check(t)
    assert denied(lim, t).headers["Retry-After"] == "7"


def test_success_headers_are_a_real_count_of_the_tightest_limit():
    clock = Clock()
    lim = limiter(rules(("api_key", 10, "60s"), ("project", 3, "30s")), clock)
    t = tenant()
    h = lim.check(t)
    assert h == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": str(int(clock.wall_s) + 10),
                 "X-RateLimit-Window": "30", "X-RateLimit-Scope": "project"}
    assert lim.check(t)["X-RateLimit-Remaining"] == "1"
    assert lim.check(t)["X-RateLimit-Remaining"] == "0"
    clock.advance(30)  # the project bucket refills completely
    assert lim.check(t)["X-RateLimit-Remaining"] == "2"


def test_most_specific_rule_wins():
    lim = limiter(rules(("end_user", 1, "60s"), ("end_user", 3, "60s", {"end_user": "vip"}),
                        ("api_key", 100, "60s"), ("api_key", 2, "60s", {"key": "sl_live_0000key9"}),
                        ("api_key", 50, "60s", {"project": "proj-2-name"})))
    vip, other = tenant(key="key-1"), tenant(key="key9")
    for _ in range(3):
        lim.check(vip, "vip")
    assert denied(lim, vip, "vip").details["limit"] == 3
    lim.check(other)
    lim.check(other)
    assert denied(lim, other).details == {"source": "customer_limit", "scope": "api_key", "limit": 2,
                                          "window_seconds": 60}
    assert lim.check(tenant(project="proj-2", key="key-3"))["X-RateLimit-Limit"] == "50"


def test_fifty_concurrent_asyncio_clients_against_20_per_10s_admit_exactly_20():
    """50 coroutines each hand their check to a thread of their own; a barrier releases all 50
    checks at once, so they race inside the limiter rather than taking turns on the loop."""
    lim = limiter(rules(("api_key", 20, "10s")))
    t = tenant()
    barrier = threading.Barrier(50)

    def check() -> bool:
        barrier.wait()
        try:
            lim.check(t)
            return True
        except RateLimited:
            return False

    async def main() -> list[bool]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=50) as pool:
            return await asyncio.gather(*(loop.run_in_executor(pool, check) for _ in range(50)))

    results = asyncio.run(main())
    assert results.count(True) == 20 and results.count(False) == 30


def test_fifty_threads_admit_exactly_20():
    lim = limiter(rules(("project", 20, "10s")))
    t = tenant()
    admitted, barrier = [], threading.Barrier(50)

    def client():
        barrier.wait()
        try:
            lim.check(t)
            admitted.append(1)
        except RateLimited:
            pass

    threads = [threading.Thread(target=client) for _ in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(admitted) == 20


def test_idle_buckets_expire_and_memory_is_one_entry_per_active_bucket():
    clock = Clock()
    lim = limiter(rules(("end_user", 5, "10s")), clock)
    t = tenant()
    for i in range(1000):
        lim.check(t, f"user-{i}")
    assert len(lim.buckets) == 1000
    clock.advance(1)  # one call of 5 per 10 s is paid back after 2 s
    lim.check(t, "user-0")
    assert lim.sweep() == 0
    clock.advance(1)
    assert lim.sweep() == 999 and len(lim.buckets) == 1  # user-0's second call keeps it busy longer
    clock.advance(2)
    assert lim.sweep() == 1 and lim.buckets == {}
    # A swept bucket behaves exactly like the one it replaced: a full budget.
    assert lim.check(t, "user-1")["X-RateLimit-Remaining"] == "4"
