"""A proxied call, read back through the read API: the request log, its trace and stats."""
from __future__ import annotations

from decimal import Decimal

import httpx
import openai
import pytest

from ..support.running import start_service
from .conftest import add_provider_key, proxy_yaml, request_row, wait_rows


@pytest.fixture(scope="module")
def api_proxy(tmp_path_factory, chdb_path, stub, encryption_key):
    yaml = proxy_yaml(stub, extensions="  api:\n    endpoint: 127.0.0.1:{port}\n")
    rs = start_service(yaml, tmp_path_factory.mktemp("proxy-api"), chdb_path)
    yield rs
    rs.stop()


def test_proxied_call_in_requests_traces_and_stats(api_proxy, store, project):
    key = api_proxy.new_key(project)
    add_provider_key(api_proxy, key, "openai")
    sdk = openai.OpenAI(api_key=key, base_url=f"{api_proxy.url}/proxy/openai/v1", max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-spanlens-user": "u1", "x-spanlens-session": "s1"})
    rid = raw.headers["x-request-id"]
    row = request_row(store, rid)
    wait_rows(store, "SELECT 1 FROM spanlens.llm_calls WHERE span_id = {s:String}", {"s": row["span_id"]})
    http = httpx.Client(base_url=api_proxy.url, headers={"Authorization": f"Bearer {key}"})

    listed = http.get("/api/v1/requests").json()["data"]
    assert [r["id"] for r in listed] == [rid]
    one = http.get(f"/api/v1/requests/{rid}").json()["data"]
    assert one["trace_id"] == row["trace_id"] and one["span_id"] == row["span_id"]
    assert Decimal(one["cost_usd"]) == row["cost_usd"] and one["user_id"] == "u1"
    trace = http.get(f"/api/v1/traces/{one['trace_id']}").json()["data"]
    assert trace["spans"][0]["id"] == one["span_id"]
    traces = http.get("/api/v1/traces", params={"session_id": "s1"}).json()["data"]
    assert [t["id"] for t in traces] == [one["trace_id"]] and traces[0]["models"] == ["gpt-4o-mini-2024"]
    stats = http.get("/api/v1/stats", params={"group_by": "provider"}).json()["data"]
    assert [(s["key"], s["calls"], s["input_tokens"], s["cache_read_tokens"]) for s in stats] == [
        ("openai", 1, row["prompt_tokens"], row["cache_read_tokens"])]
    assert Decimal(stats[0]["cost_usd"]) == row["cost_usd"]
