"""The price table and the cost formula.

Prices are USD per 1M tokens, held as ``Decimal`` so money stays exact. A table is built
from layers (shipped file, imported file, config overrides); for each provider + model a
higher layer's rows replace the lower layer's. See README.md for the file format and the
lookup rule.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from spanlens_pipeline.amounts import SERVICE_TIER_MULTIPLIERS, decimal_of
from spanlens_pipeline.errors import PriceError
from spanlens_pipeline.processors.genai.providers import canonical_provider

PER_MILLION = Decimal(1_000_000)
COST_SCALE = Decimal("1e-12")  # the scale of the cost columns (Decimal(18, 12))
BOUNDARIES = "-@:"  # a model id continues a price key only after one of these
SERVICE_TIERS = SERVICE_TIER_MULTIPLIERS
_RATE_KEYS = ("input", "output", "cache_read", "cache_write")
_ROW_KEYS = frozenset({"provider", "model", *_RATE_KEYS, "long_context", "effective_from", "note"})


@dataclass(frozen=True, slots=True)
class Rates:
    input: Decimal
    output: Decimal
    cache_read: Decimal  # the input rate where the provider has no cache price
    cache_write: Decimal


@dataclass(frozen=True, slots=True)
class Price:
    provider: str
    model: str
    rates: Rates
    long_rates: Rates | None = None
    threshold: int | None = None  # long rates apply when gross input > threshold
    effective_from: dt.date | None = None  # None: since always

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int,
             multiplier: Decimal = Decimal(1)) -> Decimal:
        """USD for one call; ``input_tokens`` is gross (includes both cache counts)."""
        long = self.long_rates is not None and self.threshold is not None and input_tokens > self.threshold
        r = self.long_rates if long else self.rates
        assert r is not None
        plain = max(0, input_tokens - cache_read - cache_write)
        total = (plain * r.input + cache_read * r.cache_read + cache_write * r.cache_write
                 + output_tokens * r.output)
        return (total / PER_MILLION * multiplier).quantize(COST_SCALE)


def money(value: Any, where: str) -> Decimal:
    """A non-negative price from JSON/YAML (number or decimal string)."""
    d = decimal_of(value)
    if d is None:
        raise PriceError(f"{where}: expected a price, got {value!r}")
    if not d.is_finite() or d < 0:
        raise PriceError(f"{where}: a price must be a non-negative number, got {value!r}")
    return d


def _rates(d: dict[str, Any], base: Rates | None, where: str) -> Rates:
    def get(key: str, default: Decimal | None) -> Decimal | None:
        v = d.get(key)
        return default if v is None else money(v, f"{where}.{key}")

    inp = get("input", base.input if base else None)
    if inp is None:
        raise PriceError(f"{where}.input is required")
    out = get("output", base.output if base else Decimal(0))
    assert out is not None
    read = get("cache_read", base.cache_read if base else inp)
    write = get("cache_write", base.cache_write if base else inp)
    return Rates(inp, out, read if read is not None else inp, write if write is not None else inp)


def price_from_dict(d: Any, where: str) -> Price:
    """One row of a price file or override (format in README.md)."""
    if not isinstance(d, dict):
        raise PriceError(f"{where}: expected an object")
    unknown = sorted(set(d) - _ROW_KEYS)
    if unknown:
        raise PriceError(f"{where}: unknown field {unknown[0]!r}")
    provider, model = canonical_provider(d.get("provider")), d.get("model")
    if not provider or not isinstance(model, str) or not model.strip():
        raise PriceError(f"{where}: provider and model are required")
    rates = _rates(d, None, where)
    long_rates = threshold = None
    lc = d.get("long_context")
    if lc is not None:
        if not isinstance(lc, dict) or set(lc) - {"threshold", *_RATE_KEYS}:
            raise PriceError(f"{where}.long_context: expected threshold and rates")
        threshold = lc.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise PriceError(f"{where}.long_context.threshold: expected a token count")
        long_rates = _rates(lc, rates, f"{where}.long_context")
    eff = d.get("effective_from")
    try:
        effective = dt.date.fromisoformat(eff) if eff is not None else None
    except (TypeError, ValueError):
        raise PriceError(f"{where}.effective_from: expected a date YYYY-MM-DD, got {eff!r}") from None
    return Price(provider, model.strip().lower(), rates, long_rates, threshold, effective)


def read_file(text: str | bytes, source: str) -> list[Price]:
    """The rows of a price file (``{"prices": [...]}``)."""
    try:
        doc = json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise PriceError(f"{source}: not valid JSON ({exc})") from None
    rows = doc.get("prices") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise PriceError(f"{source}: expected an object with a \"prices\" list")
    return [price_from_dict(r, f"{source}: prices[{i}]") for i, r in enumerate(rows)]


def shipped() -> list[Price]:
    """The price table shipped with the package."""
    return read_file(resources.files(__package__).joinpath("prices.json").read_bytes(), "prices.json")


class PriceTable:
    """Prices by provider and model, with the boundary-aware prefix lookup."""

    def __init__(self, layers: Iterable[Iterable[Price]]) -> None:
        self.rows: dict[str, dict[str, list[Price]]] = {}
        for layer in layers:
            grouped: dict[tuple[str, str], list[Price]] = {}
            for p in layer:
                grouped.setdefault((p.provider, p.model), []).append(p)
            for (provider, model), rows in grouped.items():
                rows.sort(key=lambda p: p.effective_from or dt.date.min)
                self.rows.setdefault(provider, {})[model] = rows

    def __len__(self) -> int:
        return sum(len(models) for models in self.rows.values())

    def periods(self) -> Iterable[tuple[int, dt.date, dt.date, Price]]:
        """Every row as (provider rank, first day, day after the last, price): the days each row is
        in force by ``_on``'s rule (a model's first row from ``date.min``, its last to ``date.max``)."""
        for rank, models in enumerate(self.rows.values()):
            for rows in models.values():
                for i, row in enumerate(rows):
                    start = dt.date.min if i == 0 else (rows[i].effective_from or dt.date.min)
                    end = dt.date.max if i + 1 == len(rows) else (rows[i + 1].effective_from or dt.date.min)
                    yield rank, start, max(start, end), row

    def _match(self, provider: str | None, model: str) -> list[Price] | None:
        """Exact key, else the longest key that ``model`` continues after a boundary."""
        models = self.rows.get(provider) if provider else None
        if not models:
            return None
        rows = models.get(model)
        if rows:
            return rows
        for i in range(len(model) - 1, 0, -1):
            if model[i] in BOUNDARIES:
                rows = models.get(model[:i])
                if rows:
                    return rows
        return None

    def _candidates(self, provider: str | None, model: str) -> Iterable[tuple[str | None, str]]:
        yield provider, model
        known = provider in self.rows
        if "/" in model:  # "openai/gpt-4o" (OpenRouter), "models/gemini-2.5-pro" (Gemini API)
            vendor, _, tail = model.rpartition("/")
            yield provider, tail
            if provider == "openrouter" or not known:
                yield canonical_provider(vendor.rpartition("/")[2]), tail
        if not known:  # provider unknown or without prices: the model's own vendor
            for other in self.rows:
                yield other, model

    def find(self, provider: str | None, model: str, day: dt.date | None = None) -> Price | None:
        """The price of ``model`` served by ``provider`` on ``day`` (None if unknown)."""
        provider = "openai" if provider == "azure" else provider
        m = model.strip().lower()
        if provider == "openrouter" and m.endswith(":free"):
            return Price(provider, m, Rates(*(Decimal(0),) * 4))
        for p, candidate in self._candidates(provider, m):
            rows = self._match(p, candidate)
            if rows:
                return _on(rows, day)
        return None


def _on(rows: list[Price], day: dt.date | None) -> Price:
    """The row in force on ``day``: the latest that started by then (the earliest if none had)."""
    if day is None:
        return rows[-1]
    chosen = rows[0]
    for row in rows:
        if row.effective_from is None or row.effective_from <= day:
            chosen = row
    return chosen


def tier_multiplier(tier: Any, tiers: dict[str, Decimal]) -> Decimal:
    """The price multiplier of a served service tier (unknown or absent → 1)."""
    if not isinstance(tier, str):
        return Decimal(1)
    return tiers.get(tier.strip().lower(), Decimal(1))
