"""Rate buckets shared through a real Redis server: replicas admit exactly the limit between
them, with the same headers and Retry-After as the in-process limiter."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import openai
import pytest

from spanlens_pipeline.confschema import decode
from spanlens_pipeline.errors import ConfigError, RateLimited
from spanlens_pipeline.extensions.ratelimit import Config, Limiter
from spanlens_pipeline.extensions.ratelimit.shared import SharedBuckets

from ..support.running import REPO
from .helpers import tenant
from .test_proxy_e2e import MSG, client_for, service_with_limits

LIMITS = {"default_plan": "enterprise", "limits": [
    {"scope": "end_user", "requests": 2, "window": "60s"},
    {"scope": "api_key", "requests": 3, "window": "60s"},
    {"scope": "project", "requests": 4, "window": "60s"},
]}


def test_two_processes_admit_exactly_20_of_a_20_per_10s_limit(redis_url, tmp_path):
    go, project = tmp_path / "go", f"p-{uuid.uuid4().hex[:8]}"
    procs = [subprocess.Popen([sys.executable, "-m", "tests.support.shared_limiter_worker", redis_url, str(go), "25",
                               project], cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.write_text("")
    admitted = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(admitted) == 20, admitted


async def _sequence(lim: Limiter, shared: bool, prefix: str) -> list:
    """Calls through every layer; what each returned (headers) or refused (status, details, headers)."""
    t1, t2 = tenant(project=f"{prefix}-p", key=f"{prefix}-k1"), tenant(project=f"{prefix}-p", key=f"{prefix}-k2")
    calls = [(t1, "u1"), (t1, "u1"), (t1, "u1"), (t1, "u2"), (t1, None), (t2, None), (t2, None), (t2, "u3")]
    out = []
    for t, user in calls:
        try:
            out.append(("ok", await lim.acheck(t, user) if shared else lim.check(t, user)))
        except RateLimited as exc:
            out.append(("denied", exc.details, exc.headers))
    return out


def _comparable(result: tuple) -> tuple:
    """Reset is a Unix second on each limiter's clock: equal to within a second."""
    *head, headers = result
    return (*head, {k: v for k, v in headers.items() if k != "X-RateLimit-Reset"})


def test_shared_buckets_answer_exactly_like_the_in_process_limiter(redis_url):
    cfg = decode(Config, LIMITS, "ratelimit")
    local = asyncio.run(_sequence(Limiter(cfg), False, f"l{uuid.uuid4().hex[:6]}"))

    async def shared_run():
        lim = Limiter(cfg)
        lim.shared = SharedBuckets(redis_url)
        try:
            return await _sequence(lim, True, f"s{uuid.uuid4().hex[:6]}")
        finally:
            await lim.shared.close()

    remote = asyncio.run(shared_run())
    assert [r[0] for r in local] == ["ok", "ok", "denied", "ok", "denied", "ok", "denied", "denied"]
    assert [_comparable(r) for r in remote] == [_comparable(r) for r in local]
    for a, b in zip(local, remote):
        ra, rb = int(a[-1]["X-RateLimit-Reset"]), int(b[-1]["X-RateLimit-Reset"])
        assert abs(ra - rb) <= 1
    assert local[2][2]["Retry-After"] == remote[2][2]["Retry-After"] == "30"  # 2 per 60s: next slot in 30s


def test_a_denied_call_counts_nowhere(redis_url):
    """A refusal by a later layer leaves the earlier buckets untouched (checked before counting)."""
    cfg = decode(Config, {"default_plan": "enterprise", "limits": [
        {"scope": "end_user", "requests": 5, "window": "60s"},
        {"scope": "project", "requests": 1, "window": "60s"}]}, "ratelimit")

    async def run():
        lim = Limiter(cfg)
        lim.shared = SharedBuckets(redis_url)
        t = tenant(project=f"p-{uuid.uuid4().hex[:6]}")
        try:
            first = await lim.acheck(t, "u")
            for _ in range(3):
                with pytest.raises(RateLimited):
                    await lim.acheck(t, "u")
            key = lim.shared.key(("u", t.api_key_id, "u"))
            sec, usec = await lim.shared.client.time()
            return first, await lim.shared.client.hgetall(key), sec * 1_000_000 + usec
        finally:
            await lim.shared.close()

    first, bucket, now_us = asyncio.run(run())
    assert first["X-RateLimit-Scope"] == "project" and first["X-RateLimit-Remaining"] == "0"
    assert bucket["r"] == "5" and bucket["w"] == "60"
    # one call counted: the TAT is one interval (12 s) past the time of that call, not four
    assert 11_000_000 < int(bucket["t"]) - now_us <= 12_000_000


def test_two_services_share_one_limit_through_redis(service_factory, stub, project, encryption_key, redis_url):
    settings = f"""    default_plan: enterprise
    redis: {redis_url}
    limits:
      - {{scope: project, requests: 20, window: 10s}}
"""
    a = service_with_limits(service_factory, stub, settings)
    b = service_with_limits(service_factory, stub, settings)
    ca, _ = client_for(a, project, cls=openai.AsyncOpenAI)
    cb, _ = client_for(b, project, cls=openai.AsyncOpenAI)

    async def one(client) -> int:
        try:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
            return 200
        except openai.RateLimitError as exc:
            assert exc.response.headers["retry-after"] == "1"  # 20 per 10 s: a slot every 0.5 s
            return 429

    async def main():
        try:
            return await asyncio.gather(*(one(c) for c in [ca, cb] * 20))
        finally:
            await ca.close()
            await cb.close()

    statuses = asyncio.run(main())
    assert statuses.count(200) == 20 and statuses.count(429) == 20


def test_redis_setting_must_be_a_redis_url():
    decode(Config, {"redis": ""}, "ratelimit")
    decode(Config, {"redis": "redis://127.0.0.1:6379/0"}, "ratelimit")
    with pytest.raises(ConfigError, match="redis"):
        decode(Config, {"redis": "http://127.0.0.1:6379"}, "ratelimit")


def test_without_redis_the_check_stays_synchronous():
    lim = Limiter(decode(Config, LIMITS, "ratelimit"))
    assert lim.shared is None
    assert isinstance(lim.check(tenant(project=f"p-{uuid.uuid4().hex[:6]}"), "u"), dict)


def test_a_service_refuses_to_start_without_its_redis(service_factory, stub):
    from ..support.running import free_port
    with pytest.raises(ConfigError, match="cannot reach Redis"):
        service_with_limits(service_factory, stub, f"    redis: redis://127.0.0.1:{free_port()}/0\n")


def test_redis_going_away_answers_503_with_retry_after(tmp_path):
    from spanlens_pipeline.errors import Unavailable

    from ..support.redis_server import start_redis
    proc, url = start_redis(tmp_path)
    cfg = decode(Config, LIMITS, "ratelimit")

    async def run():
        lim = Limiter(cfg)
        lim.shared = SharedBuckets(url)
        try:
            ok = await lim.acheck(tenant(project="gone"), "u")
            proc.terminate()
            proc.wait(10)
            with pytest.raises(Unavailable) as info:
                await lim.acheck(tenant(project="gone"), "u")
            return ok, info.value
        finally:
            await lim.shared.close()

    ok, err = asyncio.run(run())
    assert ok["X-RateLimit-Scope"] == "end_user"
    assert err.status == 503 and err.headers["Retry-After"] == "1"
