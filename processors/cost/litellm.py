"""LiteLLM's ``model_prices_and_context_window.json`` → rows of our price file.

LiteLLM prices are USD per token keyed by model id (often prefixed ``<provider>/``), with
``litellm_provider`` naming the provider. Kept: token-priced modes (chat, completion,
responses, embedding) with an input price; input, output, cache read and cache write rates;
the lowest ``*_above_<N>k_tokens`` tier as the long-context tier. Everything else (images,
audio, per-request fees, batch/priority prices, which the service-tier multipliers cover)
is left out.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from spanlens_pipeline.processors.genai.providers import canonical_provider

from .pricing import PER_MILLION, PriceError, money, price_from_dict

# LiteLLM provider names that differ from ours.
PROVIDERS = {"text-completion-openai": "openai", "cohere_chat": "cohere", "codestral": "mistral",
             "text-completion-codestral": "mistral", "vertex_ai-language-models": "vertex_ai",
             "vertex_ai-anthropic_models": "vertex_ai", "vertex_ai-embedding-models": "vertex_ai",
             "bedrock_converse": "bedrock", "azure_ai": "azure"}
TOKEN_MODES = frozenset({None, "chat", "completion", "responses", "embedding"})
_TIER = re.compile(r"input_cost_per_token_above_(\d+)k_tokens")
_RATES = {"input": "input_cost_per_token", "output": "output_cost_per_token",
          "cache_read": "cache_read_input_token_cost", "cache_write": "cache_creation_input_token_cost"}


def _per_million(value: Any, where: str) -> str | None:
    """A per-token price as a per-1M decimal string (None stays None)."""
    if value is None:
        return None
    d: Decimal = money(value, where) * PER_MILLION
    return format(d.normalize(), "f")


def _rates(entry: dict[str, Any], suffix: str, key: str) -> dict[str, str]:
    out = {}
    for name, field in _RATES.items():
        value = _per_million(entry.get(field + suffix), f"{key}.{field}{suffix}")
        if value is not None:
            out[name] = value
    return out


def convert(doc: Any, effective_from: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """(price rows, number of entries skipped) for a parsed LiteLLM price document."""
    if not isinstance(doc, dict):
        raise PriceError("expected a JSON object keyed by model id")
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    skipped = 0
    for key, entry in doc.items():
        if key == "sample_spec" or not isinstance(entry, dict):
            continue
        raw = entry.get("litellm_provider")
        provider = canonical_provider(PROVIDERS.get(raw, raw) if isinstance(raw, str) else raw)
        if entry.get("mode") not in TOKEN_MODES or entry.get("input_cost_per_token") is None or not provider:
            skipped += 1
            continue
        model = key
        for prefix in (f"{raw}/", f"{provider}/"):
            if model.startswith(prefix):
                model = model[len(prefix):]
                break
        try:
            row: dict[str, Any] = {"provider": provider, "model": model, **_rates(entry, "", key)}
            tiers = sorted(int(m.group(1)) for m in map(_TIER.fullmatch, entry) if m)
            if tiers:
                row["long_context"] = {"threshold": tiers[0] * 1000,
                                       **_rates(entry, f"_above_{tiers[0]}k_tokens", key)}
            if effective_from:
                row["effective_from"] = effective_from
            price_from_dict(row, key)
        except PriceError:
            skipped += 1
            continue
        rows[(provider, model.lower())] = row
    return list(rows.values()), skipped
