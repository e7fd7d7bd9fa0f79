"""The OpenAI-shaped providers (azure, mistral, openrouter, groq, deepseek, xai, cohere) over their wire format."""
from __future__ import annotations

from decimal import Decimal

import openai
import pytest

from ..support.stub_upstream import OPENAI_USAGE, OPENROUTER_COST, USAGE_ALWAYS
from .conftest import proxy_span, request_row

# provider → (path the stub must see, header carrying the credential, injects include_usage)
CASES = {
    "azure": ("/azure/openai/v1/chat/completions", "api-key", True),
    "mistral": ("/mistral/v1/chat/completions", "authorization", False),
    "openrouter": ("/openrouter/v1/chat/completions", "authorization", False),
    "groq": ("/groq/v1/chat/completions", "authorization", True),
    "deepseek": ("/deepseek/v1/chat/completions", "authorization", True),
    "xai": ("/xai/v1/chat/completions", "authorization", True),
    "cohere": ("/cohere/v1/chat/completions", "authorization", False),
}


@pytest.mark.parametrize("provider", list(CASES))
def test_openai_shaped_provider(proxy, key, stub, store, provider):
    path, header, injects = CASES[provider]
    base = f"{proxy.url}/proxy/{provider}" + ("" if provider == "azure" else "/v1")
    client = openai.OpenAI(api_key=key, base_url=base, max_retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    plain = client.chat.completions.with_raw_response.create(model="m-1", messages=msgs)
    sent = stub.requests[-1]
    assert sent.path == path
    secret = f"sk-test-{provider}-0123456789abcdef"
    assert sent.headers[header] == (secret if header == "api-key" else f"Bearer {secret}")
    if header == "api-key":
        assert "authorization" not in sent.headers
    row = request_row(store, plain.headers["x-request-id"])
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300) and row["provider"] == provider
    assert row["reported_cost_usd"] == (Decimal(str(OPENROUTER_COST)) if provider == "openrouter" else None)

    stream = client.chat.completions.create(model="m-1", messages=msgs, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "w0 w1 w2 "
    assert ("stream_options" in stub.requests[-1].json()) == injects
    rid = stream.response.headers["x-request-id"]
    row = request_row(store, rid)
    span = proxy_span(store, rid)
    if injects or provider in USAGE_ALWAYS:
        assert (row["prompt_tokens"], row["total_tokens"]) == (1200, OPENAI_USAGE["total_tokens"])
    else:  # no usage in the stream: tokens and cost unknown, never 0
        assert row["prompt_tokens"] is None and row["cost_usd"] is None and span["cost_usd"] is None
    if provider == "openrouter":
        assert span["cost_usd"] == row["cost_usd"] == Decimal(str(OPENROUTER_COST))
        assert span["cost_source"] == "reported"
