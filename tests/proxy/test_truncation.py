"""Large bodies are stored as a preview with flags; API keys in stored bodies are masked."""
from __future__ import annotations

import json

from .conftest import proxy_span, request_row


def test_large_body_is_previewed_and_keys_masked(proxy, key, stub, store):
    big = "x" * 100_000
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"my key is {key} AIzaSyA1234567890abcdef {big}"}]}
    with proxy.client() as c:
        r = c.post("/proxy/openai/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert json.loads(stub.requests[-1].body) == body  # forwarded whole
    row = request_row(store, r.headers["x-request-id"])
    stored = json.loads(row["request_body"])
    assert stored["_truncated"] is True and stored["_original_size_bytes"] > 100_000
    assert 1900 < len(stored["_preview"]) <= 2048  # first 2048 characters, then keys masked
    assert key not in row["request_body"] and "sl_live_***" in stored["_preview"]
    assert "AIza***" in stored["_preview"]
    assert "request_body_truncated" in row["flags"] and "response_body_truncated" not in row["flags"]
    span = proxy_span(store, r.headers["x-request-id"])
    assert "input_truncated" in span["flags"] and key not in span["input"]
