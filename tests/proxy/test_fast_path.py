"""The proxy's own route: trace/span ids on responses, and provider keys kept in memory."""
from __future__ import annotations

import time

import pytest

from spanlens_pipeline.extensions.keystore import KeyStore
from spanlens_pipeline.extensions.keystore.provider_keys import ProviderKeys
from spanlens_pipeline.ids import canonical_id

from ..support.running import start_service
from .conftest import add_provider_key, proxy_span, proxy_yaml, request_row

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def service(tmp_path_factory, chdb_path, stub, encryption_key):
    """The proxy with the read API on the same port."""
    rs = start_service(proxy_yaml(stub, extensions="  api:\n    endpoint: 127.0.0.1:{port}\n"),
                       tmp_path_factory.mktemp("fastpath"), chdb_path)
    yield rs
    rs.stop()


def _fetch_trace(c, key: str, trace_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"/api/v1/traces/{trace_id}", headers={"authorization": f"Bearer {key}"})
        if r.status_code == 200 or time.monotonic() > deadline:
            assert r.status_code == 200, r.text
            return r.json()["data"]
        time.sleep(0.05)


def _span_ids(nodes: list[dict]) -> set[str]:
    out: set[str] = set()
    for node in nodes:
        out.add(node["id"])
        out |= _span_ids(node["children"])
    return out


def _chat(c, key: str, **headers: str):
    r = c.post("/proxy/openai/v1/chat/completions", json=CHAT,
               headers={"authorization": f"Bearer {key}", **headers})
    assert r.status_code == 200, r.text
    return r


def test_response_names_the_trace_and_span_it_is_stored_under(service, project, store):
    key = service.new_key(project)
    add_provider_key(service, key, "openai")
    with service.client() as c:
        r = _chat(c, key)
        trace_id, span_id = r.headers["x-spanlens-trace-id"], r.headers["x-spanlens-span-id"]
        assert len(trace_id) == 32 and len(span_id) == 16
        trace = _fetch_trace(c, key, trace_id)
    assert trace["id"] == trace_id
    assert span_id in _span_ids(trace["spans"])
    row = request_row(store, r.headers["x-request-id"])
    assert (row["trace_id"], row["span_id"]) == (trace_id, span_id)


def test_client_trace_headers_make_the_call_a_child(service, project, store):
    key = service.new_key(project)
    add_provider_key(service, key, "openai")
    client_trace, client_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    with service.client() as c:
        r = _chat(c, key, **{"x-trace-id": client_trace, "x-span-id": client_span})
        assert r.headers["x-spanlens-trace-id"] == canonical_id(client_trace)
        span_id = r.headers["x-spanlens-span-id"]
        assert span_id != client_span
        trace = _fetch_trace(c, key, r.headers["x-spanlens-trace-id"])
    assert span_id in _span_ids(trace["spans"])
    span = proxy_span(store, r.headers["x-request-id"])
    assert span["span_id"] == span_id and span["parent_span_id"] == canonical_id(client_span)
    row = request_row(store, r.headers["x-request-id"])
    assert (row["trace_id"], row["span_id"]) == (canonical_id(client_trace), span_id)


def test_a_replaced_provider_key_is_used_on_the_next_call(service, project, stub):
    key = service.new_key(project)
    add_provider_key(service, key, "openai", secret="sk-first-0123456789abcdef")
    with service.client() as c:
        _chat(c, key)
        assert stub.for_provider("openai")[-1].headers["authorization"] == "Bearer sk-first-0123456789abcdef"
        _chat(c, key)  # served from memory
        add_provider_key(service, key, "openai", secret="sk-second-0123456789abcdef")  # another connection
        _chat(c, key)
        assert stub.for_provider("openai")[-1].headers["authorization"] == "Bearer sk-second-0123456789abcdef"


def test_a_revoked_provider_key_is_gone_on_the_next_call(service, project, stub):
    key = service.new_key(project)
    add_provider_key(service, key, "groq")
    with service.client() as c:
        assert c.post("/proxy/groq/v1/chat/completions", json=CHAT,
                      headers={"authorization": f"Bearer {key}"}).status_code == 200
        store = KeyStore(service.keystore_path)
        try:
            ProviderKeys(store).revoke(store.find_key(key).id, "groq")
        finally:
            store.close()
        sent = len(stub.requests)
        r = c.post("/proxy/groq/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NO_PROVIDER_KEY"
    assert len(stub.requests) == sent
