"""Settings of the cost processor."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from spanlens_pipeline.errors import ConfigError

from .pricing import PriceError, money, price_from_dict


@dataclass
class LongContext:
    threshold: int  # the long rates apply when gross input tokens are strictly greater
    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None


@dataclass
class PriceOverride:
    """One price row (USD per 1M tokens), as in the price file."""

    provider: str
    model: str
    input: float
    output: float = 0.0
    cache_read: float | None = None
    cache_write: float | None = None
    long_context: LongContext | None = None
    effective_from: str | None = None

    def row(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class Config:
    prices_file: str | None = None  # imported prices (``prices import``), loaded over the shipped table if present
    overrides: list[PriceOverride] = field(default_factory=list)
    service_tiers: dict[str, float] = field(default_factory=dict)  # multipliers added to / replacing the defaults

    def validate(self, path: str) -> None:
        for i, o in enumerate(self.overrides):
            try:
                price_from_dict(o.row(), f"overrides[{i}]")
            except PriceError as exc:
                raise ConfigError(path, str(exc)) from None
        for name, value in self.service_tiers.items():
            try:
                money(value, "")
            except PriceError:
                raise ConfigError(f"{path}::service_tiers::{name}", "must be a non-negative number") from None
