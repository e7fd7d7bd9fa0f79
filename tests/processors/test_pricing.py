"""The price table, overrides, the LiteLLM import and the proxy's request-log rows."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from decimal import Decimal

import pytest

from spanlens_pipeline import config as config_mod
from spanlens_pipeline.component import Settings
from spanlens_pipeline.errors import ConfigError
from spanlens_pipeline.model import Batch, RequestContext, RequestRecord, SpanRecord
from spanlens_pipeline.processors.cost import CostProcessor, factory
from spanlens_pipeline.processors.cost.config import Config
from spanlens_pipeline.processors.cost.pricing import PriceTable, shipped

from ..conftest import BASE_CONFIG
from ..support.config import service_config
from ..support.otlp import send, stored
from ..support.running import run_cli

TABLE = PriceTable([shipped()])

# spanlens.md §5: provider:model → prompt / completion / cache read / cache write (None: input rate).
REFERENCE = [
    ("openai", "gpt-4o", "2.50", "10.00", "1.25", None), ("openai", "gpt-4o-mini", "0.15", "0.60", "0.075", None),
    ("openai", "gpt-4.1", "2.00", "8.00", "0.50", None), ("openai", "gpt-5", "1.25", "10.00", "0.125", None),
    ("openai", "gpt-5.5", "5.00", "30.00", "0.50", None), ("openai", "o3", "2.00", "8.00", "0.50", None),
    ("openai", "text-embedding-3-small", "0.02", "0", None, None),
    ("anthropic", "claude-sonnet-4-5", "3", "15", "0.30", "3.75"),
    ("anthropic", "claude-opus-4-1", "15", "75", "1.50", "18.75"),
    ("anthropic", "claude-haiku-4-5", "1", "5", "0.10", "1.25"),
    ("gemini", "gemini-2.5-pro", "1.25", "10", "0.125", None), ("gemini", "gemini-2.5-flash", "0.30", "2.50", "0.03", None),
    ("gemini", "gemini-2.0-flash", "0.10", "0.40", "0.025", None),
    ("mistral", "mistral-small-latest", "0.15", "0.60", None, None),
    ("groq", "llama-3.3-70b-versatile", "0.59", "0.79", None, None),
    ("deepseek", "deepseek-chat", "0.14", "0.28", "0.0028", None),
    ("xai", "grok-4.3", "1.25", "2.50", "0.20", None), ("cohere", "command-r-08-2024", "0.15", "0.60", None, None),
]
FLAGSHIPS = [("openai", "gpt-5"), ("anthropic", "claude-opus-4-5-20251101"), ("gemini", "gemini-3-pro-preview"),
             ("azure", "gpt-4.1"), ("mistral", "mistral-large-2411"), ("openrouter", "anthropic/claude-sonnet-4.5"),
             ("groq", "openai/gpt-oss-120b"), ("deepseek", "deepseek-reasoner"), ("xai", "grok-4-0709"),
             ("cohere", "command-a-03-2025")]


@pytest.mark.parametrize("provider,model,inp,out,read,write", REFERENCE)
def test_reference_prices(provider, model, inp, out, read, write):
    p = TABLE.find(provider, model)
    assert p is not None
    r = p.rates
    assert (r.input, r.output) == (Decimal(inp), Decimal(out))
    assert r.cache_read == Decimal(read or inp) and r.cache_write == Decimal(write or inp)


@pytest.mark.parametrize("provider,model", FLAGSHIPS)
def test_flagship_models_of_every_proxy_provider_are_priced(provider, model):
    assert TABLE.find(provider, model) is not None


def test_lookup_is_boundary_aware():
    assert TABLE.find("openai", "gpt-4o-mini-2024-07-18").model == "gpt-4o-mini"
    assert TABLE.find("openai", "gpt-4o-2024-11-20").model == "gpt-4o"
    assert TABLE.find("openai", "gpt-4o-2024-05-13").rates.input == Decimal("5.00")  # its own, older price
    assert TABLE.find("openai", "gpt-4-0613").model == "gpt-4"
    assert TABLE.find("openai", "gpt-4o").model == "gpt-4o"  # never gpt-4
    assert TABLE.find("openai", "gpt-5.55") is None
    assert TABLE.find("openai", "GPT-4O-MINI").model == "gpt-4o-mini"
    assert TABLE.find("azure", "gpt-4o").provider == "openai"
    assert TABLE.find("gemini", "models/gemini-2.5-flash").model == "gemini-2.5-flash"
    assert TABLE.find("openrouter", "openai/gpt-4o-mini").model == "gpt-4o-mini"  # the vendor's own price
    assert TABLE.find(None, "claude-3-5-haiku-20241022").provider == "anthropic"  # provider unknown
    assert TABLE.find("vertex_ai", "claude-sonnet-4-5@20250929").model == "claude-sonnet-4-5"
    assert TABLE.find("openrouter", "meta-llama/llama-3.3-70b-instruct:free").cost(1000, 1000, 0, 0) == 0
    assert TABLE.find("groq", "gpt-4o") is None  # a known provider does not borrow other providers' prices


def test_prices_have_effective_dates():
    assert TABLE.find("openai", "o3", dt.date(2025, 5, 1)).rates.input == Decimal("10.00")
    assert TABLE.find("openai", "o3", dt.date(2025, 6, 10)).rates.input == Decimal("2.00")
    assert TABLE.find("openai", "o3", dt.date(2024, 1, 1)).rates.input == Decimal("10.00")  # before any: earliest
    assert TABLE.find("openai", "o3").rates.input == Decimal("2.00")


def _processor(**cfg) -> CostProcessor:
    proc = factory.create(Settings("cost", logging.getLogger("cost")), Config(**cfg))
    asyncio.run(proc.start(None))  # type: ignore[arg-type]
    return proc


def _llm(span_id: str, model: str | None, **kw) -> SpanRecord:
    return SpanRecord(trace_id="ab" * 16, span_id=span_id, span_type="llm", provider="openai",
                      request_model=model, input_tokens=1000, output_tokens=500, **kw)


def test_request_log_rows_get_the_cost_of_their_span():
    proc = _processor()
    batch = Batch(spans=[_llm("01" * 8, "gpt-4o-mini"), _llm("02" * 8, "no-such-model"),
                         _llm("03" * 8, "gpt-4o", reported_cost_usd=Decimal("0.25"))],
                  requests=[RequestRecord(trace_id=t, span_id=s) for t, s in (
                      ("ab" * 16, "01" * 8), ("ab" * 16, "02" * 8), ("ab" * 16, "03" * 8), ("cd" * 16, "01" * 8))])
    asyncio.run(proc.process(batch, RequestContext(headers={})))
    costs = [r.cost_usd for r in batch.requests]
    assert costs == [Decimal("0.00045"), None, Decimal("0.25"), None]  # the last names no span
    assert batch.spans[1].flags == ["unknown_model"]
    assert batch.spans[2].cost_source == "reported"  # a receiver's reported cost (OpenRouter) wins


def test_spans_without_usage_or_of_other_types_are_left_alone():
    proc = _processor()
    no_usage = SpanRecord(trace_id="ab" * 16, span_id="01" * 8, span_type="llm", request_model="gpt-4o")
    tool = SpanRecord(trace_id="ab" * 16, span_id="02" * 8, span_type="tool", request_model="gpt-4o",
                      input_tokens=5, output_tokens=5)
    asyncio.run(proc.process(Batch(spans=[no_usage, tool]), RequestContext(headers={})))
    for span in (no_usage, tool):
        assert (span.cost_usd, span.cost_source, span.flags) == (None, None, [])


@pytest.mark.parametrize("bad", ["a lot", -1, float("nan"), 5_000_000, True])
def test_unusable_reported_costs_are_flagged_and_ignored(bad):
    span = _llm("01" * 8, "gpt-4o-mini", attributes={"gen_ai.usage.cost": bad, "llm.cost.total": "0.002"})
    _processor().price(span)
    assert span.flags == ["invalid_cost"]
    assert span.reported_cost_usd == Decimal("0.002") and span.cost_source == "reported"


def test_service_tier_multipliers_can_be_configured():
    proc = _processor(service_tiers={"priority": 2.0})
    span = _llm("01" * 8, "gpt-4o-mini", attributes={"gen_ai.response.service_tier": "Priority"})
    proc.price(span)
    assert span.cost_usd == Decimal("0.0009")


OVERRIDES = """
  cost:
    overrides:
      - provider: openai
        model: ft:gpt-4o-mini:acme
        input: 0.30
        output: 1.20
      - provider: openai
        model: gpt-4o-mini
        input: 0.10
        output: 0.40
        effective_from: "2020-01-01"
"""


def test_yaml_overrides_price_custom_models_and_replace_shipped_prices(service_factory, store, project):
    rs = service_factory(BASE_CONFIG.replace("\n  cost:\n", OVERRIDES))
    key = rs.new_key(project)
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500}
    ft = stored(store, send(rs, key, {**base, "gen_ai.request.model": "ft:gpt-4o-mini:acme:run-7"}))
    mini = stored(store, send(rs, key, {**base, "gen_ai.request.model": "gpt-4o-mini"}))
    assert ft["cost_usd"] == Decimal("0.0009") and ft["flags"] == []
    assert mini["cost_usd"] == Decimal("0.0003")


@pytest.mark.parametrize("override,message", [
    ("      - provider: openai\n        model: x\n        input: -1\n", "non-negative"),
    ("      - provider: openai\n        model: x\n        input: 1\n        effective_from: soon\n", "YYYY-MM-DD"),
    ("      - provider: openai\n        model: x\n        output: 1\n", "input"),
])
def test_bad_overrides_are_config_errors(override, message):
    text = BASE_CONFIG.replace("\n  cost:\n", "\n  cost:\n    overrides:\n" + override)
    text = text.replace("{port}", "4318").replace("{data}", "/tmp").replace("{chdb}", "/tmp/x")
    with pytest.raises(ConfigError) as err:
        config_mod.parse(text)
    assert "processors::cost" in str(err.value) and message in str(err.value)


LITELLM = {
    "sample_spec": {"input_cost_per_token": 0, "litellm_provider": "one of https://docs.litellm.ai/docs/providers"},
    "acme-chat-1": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 4e-07,
                    "output_cost_per_token": 1.6e-06, "cache_read_input_token_cost": 1e-07},
    "anthropic/claude-long-9": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
                                "output_cost_per_token": 1.5e-05, "cache_creation_input_token_cost": 3.75e-06,
                                "input_cost_per_token_above_200k_tokens": 6e-06,
                                "output_cost_per_token_above_200k_tokens": 2.25e-05},
    "dall-e-9": {"litellm_provider": "openai", "mode": "image_generation", "output_cost_per_image": 0.04},
    "broken": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "lots"},
}


@pytest.mark.slow
def test_prices_import_reads_litellm_and_the_service_uses_it(tmp_path, service_factory, store, project):
    src = tmp_path / "model_prices_and_context_window.json"
    src.write_text(json.dumps(LITELLM))
    out = tmp_path / "data" / "prices.json"
    r = run_cli("prices", "import", str(src), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "imported 2 model prices" in r.stdout and "2 entries skipped" in r.stdout
    rows = {row["model"]: row for row in json.loads(out.read_text())["prices"]}
    assert rows["acme-chat-1"]["input"] == "0.4" and rows["acme-chat-1"]["cache_read"] == "0.1"
    assert rows["claude-long-9"]["long_context"] == {"threshold": 200000, "input": "6", "output": "22.5"}

    rs = service_factory(service_config(processors={"auth": None, "genai": None, "cost": {"prices_file": out}}))
    key = rs.new_key(project)
    t = send(rs, key, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                       "gen_ai.request.model": "claude-long-9", "gen_ai.usage.input_tokens": 200_001,
                       "gen_ai.usage.output_tokens": 1000})
    assert stored(store, t)["cost_usd"] == Decimal("1.222506")  # 200,001 × 6 + 1,000 × 22.5, per 1M


@pytest.mark.slow
def test_prices_lookup_and_import_errors(tmp_path):
    r = run_cli("prices", "lookup", "azure", "gpt-4o-2024-08-06", "--config", str(tmp_path / "none.yaml"))
    assert r.returncode == 0 and "openai:gpt-4o " in r.stdout and "input 2.50" in r.stdout
    r = run_cli("prices", "lookup", "openai", "gpt-5.55", "--config", str(tmp_path / "none.yaml"))
    assert r.returncode == 1 and "no price" in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run_cli("prices", "import", str(bad), "--out", str(tmp_path / "p.json"))
    assert r.returncode == 1 and "cannot import" in r.stderr and not (tmp_path / "p.json").exists()
