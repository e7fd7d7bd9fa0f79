"""Every dialect of the same call lands on the same typed columns (via the running service)."""
from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from ..support.otlp import send, stored

# One Anthropic call: 8,000 plain + 1,000 cache-read + 1,000 cache-write input tokens, 500 out.
SEMCONV = {
    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.cache_read.input_tokens": 1000,
    "gen_ai.usage.cache_creation.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
    "gen_ai.conversation.id": "conv-1", "user.id": "u-7",
    "gen_ai.input.messages": orjson.dumps([{"role": "user", "parts": [{"type": "text", "content": "hello"}]}]).decode(),
    "gen_ai.output.messages": orjson.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "hi there"}],
                                             "finish_reason": "stop"}]).decode(),
    "gen_ai.system_instructions": orjson.dumps([{"type": "text", "content": "be brief"}]).decode(),
}
# Older gen_ai names copy Anthropic's usage block: input excludes both cache counts.
OLD_GEN_AI = {
    "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.usage.prompt_tokens": 8000, "gen_ai.usage.cache_read_input_tokens": 1000,
    "gen_ai.usage.cache_creation_input_tokens": 1000, "gen_ai.usage.completion_tokens": 500,
    "session.id": "conv-1", "user.id": "u-7",
    "gen_ai.prompt": "hello", "gen_ai.completion": "hi there",
}
OPENLLMETRY = {
    "llm.request.type": "chat", "gen_ai.system": "Anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.usage.prompt_tokens": 8000, "gen_ai.usage.completion_tokens": 500, "llm.usage.total_tokens": 8500,
    "gen_ai.usage.cache_read_input_tokens": 1000, "gen_ai.usage.cache_creation_input_tokens": 1000,
    "traceloop.association.properties.session_id": "conv-1",
    "traceloop.association.properties.user_id": "u-7",
    "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "be brief",
    "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "hello",
    "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "hi there",
    "gen_ai.completion.0.finish_reason": "stop",
}
OPENINFERENCE = {
    "openinference.span.kind": "LLM", "llm.provider": "anthropic", "llm.system": "anthropic",
    "llm.model_name": "claude-sonnet-4-5-20250929",
    "llm.token_count.prompt": 10_000, "llm.token_count.completion": 500, "llm.token_count.total": 10_500,
    "llm.token_count.prompt_details.cache_read": 1000, "llm.token_count.prompt_details.cache_write": 1000,
    "session.id": "conv-1", "user.id": "u-7",
    "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "hello",
    "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "hi there",
    "input.value": "{\"messages\": \"raw request\"}", "output.value": "raw response",
}
OPENLIT = {
    "gen_ai.operation.name": "chat", "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.output_tokens": 500, "gen_ai.usage.total_tokens": 10_500,
    "gen_ai.usage.cache_read.input_tokens": 1000, "gen_ai.usage.cache_creation.input_tokens": 1000,
    "gen_ai.usage.cost": 0.03555, "gen_ai.conversation.id": "conv-1", "user.id": "u-7",
}
OPENLIT_EVENTS = [("gen_ai.content.prompt", {"gen_ai.prompt": "hello"}),
                  ("gen_ai.content.completion", {"gen_ai.completion": "hi there"})]
# 1.28–1.36: messages as per-message events.
EVENTS = {
    "gen_ai.operation.name": "chat", "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.output_tokens": 500,
    "gen_ai.usage.cache_read.input_tokens": 1000, "gen_ai.usage.cache_creation.input_tokens": 1000,
    "gen_ai.conversation.id": "conv-1", "enduser.id": "u-7",
}
MESSAGE_EVENTS = [("gen_ai.system.message", {"gen_ai.system": "anthropic", "content": "be brief"}),
                  ("gen_ai.user.message", {"gen_ai.system": "anthropic", "content": "hello"}),
                  ("gen_ai.choice", {"index": 0, "finish_reason": "stop",
                                     "message": "{\"role\": \"assistant\", \"content\": \"hi there\"}"})]

DIALECTS = {
    "semconv": (SEMCONV, []), "old_gen_ai": (OLD_GEN_AI, []), "openllmetry": (OPENLLMETRY, []),
    "openinference": (OPENINFERENCE, []), "openlit": (OPENLIT, OPENLIT_EVENTS), "events": (EVENTS, MESSAGE_EVENTS),
}
TYPED = ("span_type", "provider", "response_model", "input_tokens", "output_tokens", "cache_read_tokens",
         "cache_write_tokens", "total_tokens", "cost_usd", "session_id", "user_id")


def test_every_dialect_of_one_call_lands_the_same(service, store, project):
    key = service.new_key(project)
    rows = {name: stored(store, send(service, key, attrs, events=events, encoding="protobuf" if i % 2 else "json"))
            for i, (name, (attrs, events)) in enumerate(DIALECTS.items())}
    expected = {"span_type": "llm", "provider": "anthropic", "response_model": "claude-sonnet-4-5-20250929",
                "input_tokens": 10_000, "output_tokens": 500, "cache_read_tokens": 1000, "cache_write_tokens": 1000,
                "total_tokens": 10_500, "cost_usd": Decimal("0.03555"), "session_id": "conv-1", "user_id": "u-7"}
    for name, row in rows.items():
        assert {c: row[c] for c in TYPED} == expected, name
        assert "hello" in row["input"] and "hi there" in row["output"], (name, row["input"], row["output"])
        assert row["flags"] == [], name
    assert rows["openlit"]["cost_source"] == "reported"
    assert {r["cost_source"] for n, r in rows.items() if n != "openlit"} == {"computed"}
    # Attributes are kept as sent (lossless).
    assert rows["openllmetry"]["attributes"]["gen_ai.usage.prompt_tokens"] == "8000"
    # Semconv system instructions come first, as a system message.
    semconv_input = orjson.loads(rows["semconv"]["input"])
    assert semconv_input[0]["role"] == "system" and semconv_input[1]["role"] == "user"
    assert orjson.loads(rows["openllmetry"]["input"])[1] == {"role": "user", "content": "hello"}
    assert orjson.loads(rows["openinference"]["output"]) == [{"role": "assistant", "content": "hi there"}]
    assert [m["role"] for m in orjson.loads(rows["events"]["input"])] == ["system", "user"]
    assert rows["old_gen_ai"]["input"] == "hello" and rows["openlit"]["output"] == "hi there"


def test_openai_dialects_count_cached_tokens_once(service, store, project):
    """OpenAI's prompt count already includes cached tokens, whatever the attribute names."""
    key = service.new_key(project)
    calls = [
        {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.prompt_tokens": 10_000,
         "gen_ai.usage.cache_read_input_tokens": 5000, "gen_ai.usage.completion_tokens": 1000},
        {"gen_ai.provider.name": "azure.ai.openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
         "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.cache_read.input_tokens": 5000,
         "gen_ai.usage.output_tokens": 1000},
        {"openinference.span.kind": "LLM", "llm.provider": "openai", "llm.model_name": "gpt-4o-2024-08-06",
         "llm.token_count.prompt": 10_000, "llm.token_count.prompt_details.cache_read": 5000,
         "llm.token_count.completion": 1000},
    ]
    for attrs in calls:
        row = stored(store, send(service, key, attrs))
        assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (10_000, 5000, 1000), attrs
        assert row["cost_usd"] == Decimal("0.02875"), attrs
    assert stored(store, send(service, key, calls[1]))["provider"] == "azure"


@pytest.mark.parametrize("bad", [-5, "lots", 10**15, 1.5, True, "", [1, 2]])
def test_garbage_token_values_are_flagged_never_a_crash(service, store, project, bad):
    key = service.new_key(project)
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": bad,
                            "gen_ai.usage.output_tokens": 500})
    row = stored(store, t)
    assert "invalid_usage" in row["flags"]
    assert row["input_tokens"] is None and row["output_tokens"] == 500
    assert row["cost_usd"] == Decimal("0.0003")  # only the valid part is priced


def test_numeric_strings_and_whole_floats_are_counts(service, store, project):
    key = service.new_key(project)
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": "1000",
                            "gen_ai.usage.output_tokens": 500.0})
    row = stored(store, t)
    assert (row["input_tokens"], row["output_tokens"], row["flags"]) == (1000, 500, [])
    assert row["cost_usd"] == Decimal("0.00045")


SPAN_TYPES = [
    ({"spanlens.span_type": "retrieval", "gen_ai.operation.name": "chat"}, "retrieval", "chat"),
    ({"openinference.span.kind": "RETRIEVER"}, "retrieval", "retrieval"),
    ({"openinference.span.kind": "AGENT", "llm.model_name": "gpt-4o"}, "custom", "invoke_agent"),
    ({"openinference.span.kind": "EMBEDDING", "embedding.model_name": "x"}, "embedding", "embeddings"),
    ({"traceloop.span.kind": "workflow", "gen_ai.request.model": "gpt-4o"}, "custom", "invoke_workflow"),
    ({"traceloop.span.kind": "tool"}, "tool", "execute_tool"),
    ({"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "gpt-4o"}, "custom", "invoke_agent"),
    ({"gen_ai.operation.name": "search_memory"}, "custom", "search_memory"),
    ({"gen_ai.operation.name": "embeddings"}, "embedding", "embeddings"),
    ({"llm.request.type": "embedding"}, "embedding", "embeddings"),
    ({"gen_ai.tool.name": "lookup", "gen_ai.tool.call.arguments": "{\"q\": 1}"}, "tool", "execute_tool"),
    ({"model": "gpt-4o"}, "llm", None),
    ({"http.method": "GET"}, "custom", None),
]


def test_span_type_rules_in_order(service, store, project):
    key = service.new_key(project)
    for attrs, span_type, operation in SPAN_TYPES:
        row = stored(store, send(service, key, attrs))
        assert (row["span_type"], row["operation"]) == (span_type, operation), attrs
    tool = stored(store, send(service, key, SPAN_TYPES[10][0]))
    assert tool["input"] == "{\"q\": 1}"
