"""The real Anthropic SDK, and Gemini's wire formats over httpx, through the proxy."""
from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from ..support.stub_upstream import ANTHROPIC_USAGE, GEMINI_USAGE
from .conftest import expected_cost, proxy_span, request_row

GROSS = ANTHROPIC_USAGE["input_tokens"] + ANTHROPIC_USAGE["cache_read_input_tokens"] + \
    ANTHROPIC_USAGE["cache_creation_input_tokens"]


@pytest.fixture
def claude(proxy, key):
    return anthropic.Anthropic(api_key=key, base_url=f"{proxy.url}/proxy/anthropic", max_retries=0)


def _check_anthropic(store, rid: str) -> None:
    row = request_row(store, rid)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (GROSS, 80, GROSS + 80)
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (2000, 300)
    assert row["service_tier"] == "standard" and row["model"] == "claude-sonnet-4-5-20250101"
    span = proxy_span(store, rid)
    cost = expected_cost("anthropic", "claude-sonnet-4-5", GROSS, 80, 2000, 300)
    assert span["cost_usd"] == cost and row["cost_usd"] == cost


def test_anthropic_message(claude, stub, store):
    raw = claude.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=100,
                                                   messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().content[0].text == "w0 w1 w2 "
    sent = stub.requests[-1]
    assert sent.headers["x-api-key"] == "sk-test-anthropic-0123456789abcdef"
    assert "authorization" not in sent.headers and sent.headers["anthropic-version"]
    _check_anthropic(store, raw.headers["x-request-id"])


def test_anthropic_stream(claude, stub, store):
    with claude.messages.stream(model="claude-sonnet-4-5", max_tokens=100,
                                messages=[{"role": "user", "content": "hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        rid = stream.response.headers["x-request-id"]
    assert text == "w0 w1 w2 " and final.usage.output_tokens == 80
    assert "stream_options" not in stub.requests[-1].json()
    _check_anthropic(store, rid)
    body = json.loads(request_row(store, rid)["response_body"])
    assert body["content"][0]["text"] == "w0 w1 w2 "


@pytest.mark.parametrize("path, params", [
    ("v1beta/models/gemini-2.5-flash:generateContent", {}),
    ("v1beta/models/gemini-2.5-flash:streamGenerateContent", {"alt": "sse"}),
    ("v1beta/models/gemini-2.5-flash:streamGenerateContent", {}),  # JSON array framing
])
def test_gemini(proxy, key, stub, store, path, params):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    with httpx.Client(timeout=30) as c:
        r = c.post(f"{proxy.url}/proxy/gemini/{path}", params={**params, "key": "client-value"},
                   json=body, headers={"x-goog-api-key": key})
    assert r.status_code == 200
    assert "w2" in r.text
    sent = stub.requests[-1]
    assert sent.query["key"] == "sk-test-gemini-0123456789abcdef" and sent.query.get("alt") == params.get("alt")
    assert "x-goog-api-key" not in sent.headers and sent.json() == body
    row = request_row(store, r.headers["x-request-id"])
    output = GEMINI_USAGE["candidatesTokenCount"] + GEMINI_USAGE["thoughtsTokenCount"]
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (900, output, 1150)
    assert (row["cache_read_tokens"], row["reasoning_tokens"]) == (600, 50)
    assert row["model"] == "gemini-2.5-flash-001" and row["streamed"] == ("stream" in path)
    span = proxy_span(store, r.headers["x-request-id"])
    assert span["request_model"] == "gemini-2.5-flash" and span["operation"] == "generate_content"
    assert span["cost_usd"] == expected_cost("gemini", "gemini-2.5-flash", 900, output, 600)
