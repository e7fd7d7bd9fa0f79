"""All three layers through the real OpenAI SDK, the proxy and the stub upstream."""
from __future__ import annotations

import asyncio
import time

import openai
import pytest

from spanlens_pipeline.extensions.keystore import KeyStore
from spanlens_pipeline.extensions.ratelimit.limiter import rejected_total

from ..proxy.conftest import add_provider_key, proxy_yaml, wait_rows

MSG = [{"role": "user", "content": "hi"}]


def service_with_limits(service_factory, stub, settings: str):
    """The proxy test service with the ratelimit extension (``settings`` indented under it) wired in."""
    return service_factory(proxy_yaml(stub, "    ratelimit: ratelimit\n", extensions="  ratelimit:\n" + settings))


def client_for(rs, project: str, max_retries: int = 0, cls=openai.OpenAI):
    raw = rs.new_key(project)
    add_provider_key(rs, raw, "openai")
    return cls(api_key=raw, base_url=f"{rs.url}/proxy/openai/v1", max_retries=max_retries), raw


def call(client, user: str | None = None):
    headers = {"x-spanlens-user": user} if user else {}
    return client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MSG, extra_headers=headers)


def refused(client, user: str | None = None) -> openai.RateLimitError:
    with pytest.raises(openai.RateLimitError) as info:
        call(client, user)
    return info.value


def limit_headers(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if "ratelimit" in k.lower() or k.lower() in
            ("retry-after", "x-overage-active")}


def request_rows(store, project_id: str) -> int:
    return store.query("SELECT count() AS n FROM spanlens.requests FINAL WHERE project_id = {p:String}",
                       {"p": project_id})[0]["n"]


CUSTOMER = """    default_plan: enterprise
    limits:
      - {scope: end_user, requests: 2, window: 60s}
      - {scope: api_key, requests: 3, window: 60s}
      - {scope: project, requests: 4, window: 60s}
"""


def test_customer_limits_deny_in_order_with_exact_bodies_and_write_no_rows(service_factory, stub, store, project,
                                                                          encryption_key):
    rs = service_with_limits(service_factory, stub, CUSTOMER)
    c1, raw1 = client_for(rs, project)
    c2, _ = client_for(rs, project)
    ok = call(c1, "user_123")
    assert ok.parse().choices[0].message.content == "w0 w1 w2 "
    got = limit_headers(ok.headers)
    reset = int(got.pop("x-ratelimit-reset"))
    assert got == {"x-ratelimit-limit": "2", "x-ratelimit-remaining": "1", "x-ratelimit-window": "60",
                   "x-ratelimit-scope": "end_user"}
    assert time.time() < reset <= time.time() + 31
    assert limit_headers(call(c1, "user_123").headers)["x-ratelimit-remaining"] == "0"

    err = refused(c1, "user_123")
    body = err.response.json()
    assert body == {"error": {"code": "RATE_LIMIT",
                              "message": "Customer-configured rate limit exceeded (end_user): 2 requests per 60s.",
                              "details": {"source": "customer_limit", "scope": "end_user", "limit": 2,
                                          "window_seconds": 60, "end_user_id": "user_123"},
                              "requestId": err.response.headers["x-request-id"]}}
    got = limit_headers(err.response.headers)
    assert reset + 29 <= int(got.pop("x-ratelimit-reset")) <= reset + 31  # full again when both calls are paid back
    assert 29 <= int(got.pop("retry-after")) <= 30  # one call is paid back after 60/2 s
    assert got == {"x-spanlens-ratelimit-scope": "end_user", "x-ratelimit-limit": "2", "x-ratelimit-remaining": "0",
                   "x-ratelimit-window": "60", "x-ratelimit-scope": "end_user"}

    call(c1, "user_456")  # the key's third call
    err = refused(c1)
    assert err.response.json()["error"]["details"] == {"source": "customer_limit", "scope": "api_key", "limit": 3,
                                                       "window_seconds": 60}
    assert err.response.headers["x-spanlens-ratelimit-scope"] == "api_key"
    assert "upgrade_url" not in err.response.text

    last = call(c2)  # the project's fourth call, through another key
    err = refused(c2)
    assert err.response.json()["error"]["details"]["scope"] == "project"
    assert err.response.headers["x-spanlens-ratelimit-scope"] == "project"

    # Four calls passed and four rows were logged; the three refusals wrote nothing.
    tenant = KeyStore(rs.keystore_path).authenticate(raw1)
    rows = wait_rows(store, "SELECT id FROM spanlens.requests FINAL WHERE id = {i:String}",
                     {"i": last.headers["x-request-id"]})
    assert rows and request_rows(store, tenant.project_id) == 4
    metrics = rs.client().get("/metrics").text
    for scope in ("end_user", "api_key", "project"):
        assert f'spanlens_ratelimit_rejected_total{{scope="{scope}",source="customer_limit"}}' in metrics


def test_retry_after_is_honoured_by_hand_and_by_the_sdk(service_factory, stub, project, encryption_key):
    rs = service_with_limits(service_factory, stub, """    default_plan: enterprise
    limits:
      - {scope: api_key, requests: 2, window: 2s}
""")
    client, raw = client_for(rs, project)
    call(client)
    call(client)
    err = refused(client)
    assert err.response.headers["retry-after"] == "1"
    time.sleep(1)
    assert limit_headers(call(client).headers)["x-ratelimit-remaining"] == "0"
    # Spend the budget again; the SDK's own retry then waits for Retry-After and succeeds.
    refused(client)
    retrying = openai.OpenAI(api_key=raw, base_url=client.base_url, max_retries=1)
    before, upstream_calls = rejected_total.value(source="customer_limit", scope="api_key"), len(stub.requests)
    assert call(retrying).parse().choices[0].message.content == "w0 w1 w2 "
    assert rejected_total.value(source="customer_limit", scope="api_key") == before + 1
    assert len(stub.requests) == upstream_calls + 1  # the refused attempt never reached the upstream


def test_fifty_concurrent_sdk_clients_against_20_per_10s_get_exactly_20(service_factory, stub, project,
                                                                        encryption_key):
    rs = service_with_limits(service_factory, stub, """    default_plan: enterprise
    limits:
      - {scope: api_key, requests: 20, window: 10s}
""")
    client, _ = client_for(rs, project, cls=openai.AsyncOpenAI)

    async def one() -> int:
        try:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
            return 200
        except openai.RateLimitError:
            return 429

    async def main():
        try:
            return await asyncio.gather(*(one() for _ in range(50)))
        finally:
            await client.close()

    statuses = asyncio.run(main())
    assert statuses.count(200) == 20 and statuses.count(429) == 30


def test_quota_overage_band_hard_cap_and_platform_ceiling(service_factory, stub, project, encryption_key):
    rs = service_with_limits(service_factory, stub, """    upgrade_url: https://billing.example/upgrade
    plans:
      starter: {monthly_requests: 2, ceiling_per_minute: 3}
    organizations:
      default: {plan: starter, allow_overage: true, overage_cap_multiplier: 2}
""")
    client, _ = client_for(rs, project)
    seen = [limit_headers(call(client).headers) for _ in range(4)]
    for h in seen:
        assert int(h.pop("x-ratelimit-reset")) > time.time() + 1  # the start of next month
        assert int(h.pop("x-ratelimit-window")) >= 28 * 86400
    assert seen == [
        {"x-ratelimit-limit": "4", "x-ratelimit-remaining": "3", "x-ratelimit-scope": "quota"},
        {"x-ratelimit-limit": "4", "x-ratelimit-remaining": "2", "x-ratelimit-scope": "quota"},
        {"x-ratelimit-limit": "4", "x-ratelimit-remaining": "1", "x-ratelimit-scope": "quota",
         "x-overage-active": "true"},
        {"x-ratelimit-limit": "4", "x-ratelimit-remaining": "0", "x-ratelimit-scope": "quota",
         "x-overage-active": "true", "x-spanlens-ratelimit-overage": "true"},  # the 4th call in a minute
    ]
    err = refused(client)
    error = err.response.json()["error"]
    assert error["details"] == {"source": "quota", "reason": "hard_cap", "plan": "starter", "used": 4, "limit": 2,
                                "hard_cap": 4, "upgrade_url": "https://billing.example/upgrade"}
    assert err.response.headers["x-spanlens-ratelimit-scope"] == "quota"
    assert int(err.response.headers["retry-after"]) > 1


def test_free_plan_blocks_and_the_count_survives_a_restart(service_factory, stub, store, project, encryption_key):
    settings = """    plans:
      free: {monthly_requests: 3}
"""
    rs = service_with_limits(service_factory, stub, settings)
    client, raw = client_for(rs, project)
    call(client)
    call(client)
    last = call(client)
    wait_rows(store, "SELECT id FROM spanlens.requests FINAL WHERE id = {i:String}", {"i": last.headers["x-request-id"]})
    rs.stop()
    # A new process over the same key store and store: the month's count is read back.
    rs = service_with_limits(service_factory, stub, settings)
    client = openai.OpenAI(api_key=raw, base_url=f"{rs.url}/proxy/openai/v1", max_retries=0)
    err = refused(client)
    assert err.response.json()["error"]["details"] == {
        "source": "quota", "reason": "free_limit", "plan": "free", "used": 3, "limit": 3, "hard_cap": None,
        "upgrade_url": "https://spanlens.io/pricing"}
    assert err.response.json()["error"]["message"] == "Monthly request quota of the free plan reached: 3 of 3 requests used."
