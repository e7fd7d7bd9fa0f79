"""The real OpenAI SDK through the proxy to the stub: chat, streams, tools, embeddings, errors."""
from __future__ import annotations

import openai
import pytest

from ..support.stub_upstream import EMBEDDING_USAGE, LEAKED_KEY, OPENAI_USAGE
from .conftest import expected_cost, proxy_span, request_row


@pytest.fixture
def client(proxy, key):
    return openai.OpenAI(api_key=key, base_url=f"{proxy.url}/proxy/openai/v1", max_retries=0)


def test_chat_completion_logs_exact_usage(client, stub, store):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-spanlens-user": "u1"})
    completion = raw.parse()
    assert completion.choices[0].message.content == "w0 w1 w2 "
    rid = raw.headers["x-request-id"]
    sent = stub.requests[-1]
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-openai-0123456789abcdef"
    assert not any(h.startswith("x-spanlens-") for h in sent.headers)
    row = request_row(store, rid)
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (1200, 300, 1500)
    assert (row["cache_read_tokens"], row["reasoning_tokens"]) == (1000, 120)
    assert row["status_code"] == 200 and row["provider"] == "openai" and row["model"] == "gpt-4o-mini-2024"
    assert row["service_tier"] == "default" and row["user_id"] == "u1" and not row["truncated"]
    span = proxy_span(store, rid)
    assert span["source"] == "proxy" and span["span_type"] == "llm" and span["operation"] == "chat"
    assert (span["input_tokens"], span["output_tokens"], span["cache_read_tokens"]) == (1200, 300, 1000)
    assert span["request_model"] == "gpt-4o-mini" and span["response_model"] == "gpt-4o-mini-2024"
    assert span["attributes"]["gen_ai.response.service_tier"] == "default"
    assert span["trace_id"] == row["trace_id"] and span["span_id"] == row["span_id"]
    assert span["parent_span_id"] is None
    cost = expected_cost("openai", "gpt-4o-mini", 1200, 300, cache_read=1000)
    assert cost > 0 and span["cost_usd"] == cost and row["cost_usd"] == cost


def test_stream_injects_usage_option_and_rebuilds_text(client, stub, store):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_obfuscation": False})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "w0 w1 w2 "
    assert chunks[-1].usage.prompt_tokens == OPENAI_USAGE["prompt_tokens"]
    sent = stub.requests[-1].json()
    assert sent["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    rid = stream.response.headers["x-request-id"]
    row = request_row(store, rid)
    assert row["streamed"] and (row["prompt_tokens"], row["completion_tokens"]) == (1200, 300)
    assert '"content":"w0 w1 w2 "' in row["response_body"]


def test_tool_calls_streamed_and_not(client, store):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    msgs = [{"role": "user", "content": "weather?"}]
    plain = client.chat.completions.create(model="gpt-4o", messages=msgs, tools=tools)
    assert plain.choices[0].message.tool_calls[0].function.arguments == '{"city":"Paris"}'
    stream = client.chat.completions.create(model="gpt-4o", messages=msgs, tools=tools, stream=True)
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                   for c in stream if c.choices and c.choices[0].delta.tool_calls)
    assert args == '{"city":"Paris"}'
    row = request_row(store, stream.response.headers["x-request-id"])
    assert '"arguments":"{\\"city\\":\\"Paris\\"}"' in row["response_body"]
    assert row["total_tokens"] == 1500


def test_embeddings_and_model_list(client, store):
    raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="hello")
    assert raw.parse().data[0].embedding == [0.1, 0.2, 0.3]
    row = request_row(store, raw.headers["x-request-id"])
    assert (row["prompt_tokens"], row["completion_tokens"]) == (EMBEDDING_USAGE["prompt_tokens"], 0)
    span = proxy_span(store, raw.headers["x-request-id"])
    assert span["operation"] == "embeddings"
    models = client.models.with_raw_response.list()
    assert [m.id for m in models.parse()] == ["stub-model"]
    assert request_row(store, models.headers["x-request-id"])["method"] == "GET"


@pytest.mark.parametrize("status, error", [(429, openai.RateLimitError), (500, openai.InternalServerError)])
def test_upstream_errors_pass_through_and_are_logged_masked(client, store, status, error):
    with pytest.raises(error) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                                       extra_headers={"x-stub-status": str(status)})
    resp = info.value.response
    assert resp.status_code == status and LEAKED_KEY in resp.text  # the client sees the upstream body as is
    row = request_row(store, resp.headers["x-request-id"])
    assert row["status_code"] == status and row["prompt_tokens"] is None
    assert LEAKED_KEY not in row["error_message"] and "sk-proj-***" in row["error_message"]
    assert proxy_span(store, resp.headers["x-request-id"])["status_code"] == "error"
