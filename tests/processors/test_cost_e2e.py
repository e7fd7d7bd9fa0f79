"""The worked cost examples, sent over OTLP/HTTP and read back from spanlens.spans."""
from __future__ import annotations

from decimal import Decimal

import pytest

from ..support.otlp import send, stored


@pytest.fixture
def key(service, project):
    return service.new_key(project)


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_gpt_4o_mini_snapshot(service, store, key, encoding):
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500}, encoding=encoding)
    row = stored(store, t)
    assert row["cost_usd"] == Decimal("0.00045")
    assert row["cost_source"] == "computed" and row["reported_cost_usd"] is None
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (1000, 500, 1500)
    assert row["span_type"] == "llm" and row["provider"] == "openai" and row["operation"] == "chat"
    assert row["response_model"] == "gpt-4o-mini-2024-07-18"


def test_claude_sonnet_with_cache_read_and_write(service, store, key):
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                            "gen_ai.request.model": "claude-sonnet-4-5",
                            "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.cache_read.input_tokens": 1000,
                            "gen_ai.usage.cache_creation.input_tokens": 1000, "gen_ai.usage.output_tokens": 500})
    row = stored(store, t)
    assert row["cost_usd"] == Decimal("0.03555")
    assert (row["input_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == (10_000, 1000, 1000)


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_gpt_4o_with_cached_input(service, store, key, encoding):
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10_000,
                            "gen_ai.usage.cache_read.input_tokens": 5000, "gen_ai.usage.output_tokens": 1000},
             encoding=encoding)
    assert stored(store, t)["cost_usd"] == Decimal("0.02875")


@pytest.mark.parametrize("tokens,cost", [(272_000, "1.36"), (272_001, "2.72001")])
def test_gpt_5_5_long_context_starts_strictly_above_the_threshold(service, store, key, tokens, cost):
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-5.5", "gen_ai.usage.input_tokens": tokens,
                            "gen_ai.usage.output_tokens": 0})
    assert stored(store, t)["cost_usd"] == Decimal(cost)


def test_service_tier_multiplies_every_component(service, store, key):
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.cache_read.input_tokens": 5000,
            "gen_ai.usage.output_tokens": 1000}
    batch = send(service, key, {**base, "gen_ai.request.service_tier": "batch"})
    priority = send(service, key, {**base, "gen_ai.openai.response.service_tier": "priority"})
    assert stored(store, batch)["cost_usd"] == Decimal("0.014375")
    assert stored(store, priority)["cost_usd"] == Decimal("0.05175")


def test_unknown_model_is_null_and_flagged_never_zero(service, store, key):
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "my-finetune-v3", "gen_ai.usage.input_tokens": 100,
                            "gen_ai.usage.output_tokens": 10})
    row = stored(store, t)
    assert row["cost_usd"] is None and row["cost_source"] is None
    assert "unknown_model" in row["flags"]
    assert row["input_tokens"] == 100


def test_reported_cost_is_kept_and_shown(service, store, key):
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.prompt_tokens": 1000,
                            "gen_ai.usage.completion_tokens": 500, "gen_ai.usage.cost": 0.0005})
    row = stored(store, t)
    assert row["reported_cost_usd"] == Decimal("0.0005")
    assert row["cost_usd"] == Decimal("0.0005") and row["cost_source"] == "reported"


def test_a_reported_zero_does_not_hide_an_unknown_model(service, store, key):
    t = send(service, key, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "local-llama",
                            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 10,
                            "gen_ai.usage.cost": 0})
    row = stored(store, t)
    assert row["cost_usd"] is None and row["reported_cost_usd"] == Decimal(0)
    assert "unknown_model" in row["flags"]


def test_wrapper_span_repeating_usage_carries_no_cost(service, store, key):
    t = send(service, key, {"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "gpt-4o",
                            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
                            "gen_ai.usage.cost": 0.01})
    row = stored(store, t)
    assert row["span_type"] == "custom" and row["operation"] == "invoke_agent"
    assert row["input_tokens"] == 1000  # usage is still shown
    assert row["cost_usd"] is None and row["reported_cost_usd"] is None and not row["flags"]
