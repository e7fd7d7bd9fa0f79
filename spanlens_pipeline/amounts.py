"""Counts and amounts that several components read from input: token counts, USD amounts,
service tiers. One definition each; receivers and processors apply their own policy
(reject, flag, or ignore) to a ``None`` answer."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

# The price multiplier of each service tier a provider reports (batch and flex are half price).
SERVICE_TIER_MULTIPLIERS: dict[str, Decimal] = {
    "default": Decimal(1), "standard": Decimal(1), "auto": Decimal(1), "scale": Decimal(1),
    "batch": Decimal("0.5"), "flex": Decimal("0.5"), "priority": Decimal("1.8"),
}
SERVICE_TIERS = frozenset(SERVICE_TIER_MULTIPLIERS)

MAX_TOKENS = 10**10  # no single call uses ten billion tokens: larger counts are garbage


def service_tier(value: Any) -> str | None:
    """A recognised service tier (Gemini's ``..._FLEX`` constants included), else None."""
    if not isinstance(value, str):
        return None
    v = value.strip().lower().rsplit("_", 1)[-1]
    return v if v in SERVICE_TIERS else None


def decimal_of(value: Any) -> Decimal | None:
    """A Decimal from a number or decimal string, else None (a bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None


def money(value: Any) -> Decimal | None:
    """A finite, non-negative amount from a number or decimal string, else None."""
    d = decimal_of(value)
    return d if d is not None and d.is_finite() and d >= 0 else None


def token_count(value: Any, *, text: bool = True, limit: int = MAX_TOKENS) -> int | None:
    """A token count: an integer (or integral float; with ``text``, a digit string) in 0..limit, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        n = int(value)
    elif text and isinstance(value, str):
        s = value.strip()
        if not (s.isascii() and s.isdigit() and len(s) <= 19):
            return None
        n = int(s)
    else:
        return None
    return n if 0 <= n <= limit else None
