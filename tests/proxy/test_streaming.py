"""Stream timing, client disconnects, and trace linking through the Spanlens SDK."""
from __future__ import annotations

import spanlens
from spanlens.integrations.openai import create_openai

from spanlens_pipeline.ids import canonical_id

from .conftest import proxy_span, request_row, wait_rows

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def test_first_chunk_reaches_the_client_before_the_second_is_sent(proxy, key, stub):
    stub.events.clear()
    with proxy.client() as c:
        with c.stream("POST", "/proxy/openai/v1/chat/completions", json=CHAT,
                      headers={"authorization": f"Bearer {key}", "x-stub-gap-ms": "100"}) as r:
            for i, _ in enumerate(r.iter_raw()):
                stub.mark("client-recv", i)
    events = stub.events
    assert events.index(("client-recv", 0)) < events.index(("stub-send", 1))


def test_client_disconnect_mid_stream_is_logged_truncated(proxy, key, stub, store):
    with proxy.client() as c:
        with c.stream("POST", "/proxy/openai/v1/chat/completions", json=CHAT,
                      headers={"authorization": f"Bearer {key}", "x-stub-gap-ms": "200",
                               "x-stub-chunks": "20"}) as r:
            rid = r.headers["x-request-id"]
            next(r.iter_raw())
    row = request_row(store, rid)
    assert row["truncated"] and row["status_code"] == 200
    assert "truncated" in proxy_span(store, rid)["flags"]


def test_sdk_span_is_the_parent_of_the_proxied_call(proxy, key, store):
    seen: dict = {}
    sl = spanlens.SpanlensClient(api_key=key, base_url=proxy.url)
    oa = create_openai(api_key=key, base_url=f"{proxy.url}/proxy/openai/v1")
    try:
        with sl.start_trace("answer-question") as trace:
            def call(headers):
                seen.update(headers)
                return oa.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=headers)
            raw = spanlens.observe_openai(trace, "llm-call", call)
    finally:
        sl.close()
    rid = raw.headers["x-request-id"]
    span = proxy_span(store, rid)
    assert span["trace_id"] == canonical_id(seen["x-trace-id"])
    assert span["parent_span_id"] == canonical_id(seen["x-span-id"])
    assert span["cost_usd"] is not None and span["input_tokens"] == 1200
    row = request_row(store, rid)
    assert (row["trace_id"], row["parent_span_id"]) == (span["trace_id"], span["parent_span_id"])
    # With the ingest receiver on the same endpoint, the SDK's own span lands in the same trace.
    parents = wait_rows(store, "SELECT span_id FROM spanlens.spans FINAL WHERE trace_id = {t:String} "
                               "AND span_id = {s:String}", {"t": span["trace_id"], "s": span["parent_span_id"]})
    assert parents, "the SDK span was not stored"
