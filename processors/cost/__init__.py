"""cost processor: prices llm and embedding spans from the price table (see README.md)."""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any

from spanlens_pipeline.bulksql import SqlStep
from spanlens_pipeline.component import Factory, Host, Kind, Processor, Settings
from spanlens_pipeline.errors import ConfigError
from spanlens_pipeline.model import MAX_COST_USD, Batch, RequestContext, SpanRecord

from . import bulk, cli
from .config import Config
from .pricing import (
    COST_SCALE,
    SERVICE_TIERS,
    Price,
    PriceError,
    PriceTable,
    money,
    price_from_dict,
    read_file,
    shipped,
    tier_multiplier,
)

PRICED_TYPES = frozenset({"llm", "embedding"})
FLAG_UNKNOWN_MODEL = "unknown_model"
FLAG_INVALID_COST = "invalid_cost"
SOURCE_COMPUTED, SOURCE_REPORTED = "computed", "reported"
REPORTED_COST_KEYS = ("gen_ai.usage.cost", "llm.cost.total")
SERVICE_TIER_KEYS = ("gen_ai.response.service_tier", "gen_ai.request.service_tier",
                     "gen_ai.openai.response.service_tier", "gen_ai.openai.request.service_tier")


def load_table(config: Config) -> PriceTable:
    """Shipped prices, then the imported file (if it exists), then the config's overrides."""
    layers = [shipped()]
    path = config.prices_file
    if path and os.path.exists(path):
        try:
            with open(path, "rb") as f:
                layers.append(read_file(f.read(), path))
        except (OSError, PriceError) as exc:
            raise ConfigError("processors::cost::prices_file", str(exc)) from None
    layers.append([price_from_dict(o.row(), f"overrides[{i}]") for i, o in enumerate(config.overrides)])
    return PriceTable(layers)


def reported_cost(span: SpanRecord) -> Decimal | None:
    """A cost the instrumentation reported (flagged and ignored if it is not a sane amount)."""
    for key in REPORTED_COST_KEYS:
        value = span.attributes.get(key)
        if value is None:
            continue
        try:
            d = money(value, key) if isinstance(value, (int, float, str)) else None
        except PriceError:
            d = None
        if d is None or d >= MAX_COST_USD:
            span.flag(FLAG_INVALID_COST)
            continue
        return d.quantize(COST_SCALE)
    return None


_NS_PER_DAY = 86_400 * 10**9
_EPOCH = dt.date(1970, 1, 1).toordinal()
_CACHE_SIZE = 10_000


def _day_number(ns: int | None) -> int | None:
    """Days since the Unix epoch of a span start (None when unknown or absurd)."""
    if not ns or ns < 0 or ns >= 2**62:
        return None
    return ns // _NS_PER_DAY


class CostProcessor(Processor):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.tiers = {**SERVICE_TIERS, **{k.lower(): money(v, k) for k, v in config.service_tiers.items()}}
        self.table: PriceTable | None = None
        self._found: dict[tuple[str | None, str, int | None], Price | None] = {}

    async def start(self, host: Host) -> None:
        self.table = load_table(self.config)
        self.logger.info("%d model prices loaded", len(self.table))

    async def process(self, batch: Batch, ctx: RequestContext) -> Batch:
        priced = [s for s in batch.spans if s.span_type in PRICED_TYPES]
        for span in priced:
            self.price(span)
        if batch.requests and priced:
            by_id = {(s.trace_id, s.span_id): s for s in priced}
            for row in batch.requests:
                match = by_id.get((row.trace_id, row.span_id))
                if match is not None:
                    row.cost_usd = match.cost_usd
        return batch

    def price(self, span: SpanRecord) -> None:
        """Set the cost columns of one llm/embedding span."""
        if span.reported_cost_usd is None:
            span.reported_cost_usd = reported_cost(span)
        computed = self.computed_cost(span)
        reported = span.reported_cost_usd
        if reported is not None and reported > 0:
            span.cost_usd, span.cost_source = reported, SOURCE_REPORTED
        elif computed is not None:
            span.cost_usd, span.cost_source = computed, SOURCE_COMPUTED

    def computed_cost(self, span: SpanRecord) -> Decimal | None:
        """The cost from the price table; None (and a flag) when the model has no price."""
        if span.input_tokens is None and span.output_tokens is None:
            return None  # no usage reported: nothing to price
        day = _day_number(span.start_time)
        model = span.response_model or span.request_model
        price = self.find(span.provider, model, day) if model else None
        if price is None and span.response_model and span.request_model:
            price = self.find(span.provider, span.request_model, day)
        if price is None:
            span.flag(FLAG_UNKNOWN_MODEL)
            return None
        tier = _first_attr(span.attributes, SERVICE_TIER_KEYS)
        return price.cost(span.input_tokens or 0, span.output_tokens or 0, span.cache_read_tokens or 0,
                          span.cache_write_tokens or 0, tier_multiplier(tier, self.tiers))

    def bulk_sql(self) -> SqlStep | None:
        """Bulk path: the same pricing as SQL over the ``model_prices`` table (see ``bulk``)."""
        assert self.table is not None, "processor not started"
        return bulk.step(self.table, self.tiers, REPORTED_COST_KEYS, SERVICE_TIER_KEYS, PRICED_TYPES,
                         FLAG_UNKNOWN_MODEL, FLAG_INVALID_COST, SOURCE_COMPUTED, SOURCE_REPORTED)

    def find(self, provider: str | None, model: str, day: int | None) -> Price | None:
        """``PriceTable.find`` through a small cache (lookups repeat: few models, one day)."""
        key = (provider, model, day)
        try:
            return self._found[key]
        except KeyError:
            pass
        assert self.table is not None, "processor not started"
        price = self.table.find(provider, model, None if day is None else dt.date.fromordinal(_EPOCH + day))
        if len(self._found) >= _CACHE_SIZE:
            self._found.clear()
        self._found[key] = price
        return price


def _first_attr(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


factory = Factory(type="cost", kind=Kind.PROCESSOR, config=Config, create=CostProcessor, commands=cli.register)
