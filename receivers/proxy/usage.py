"""Usage extracted from a provider's answer, and the framing helpers the parsers share.

A provider module supplies a ``Parser``: ``body(obj)`` reads a whole JSON answer and
``stream()`` returns an accumulator fed with each decoded stream event. Both end in a
``Usage``. Token counts follow one rule for every provider: ``input_tokens`` is gross
(cache reads and cache writes included) and ``output_tokens`` includes reasoning.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Protocol

SERVICE_TIERS = frozenset(("default", "standard", "auto", "flex", "priority", "scale", "batch"))


@dataclass(slots=True)
class Usage:
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    service_tier: str | None = None
    reported_cost: Decimal | None = None

    @property
    def seen(self) -> bool:
        """Whether the answer reported any token count at all."""
        return self.input_tokens is not None or self.output_tokens is not None


class Accumulator(Protocol):
    def feed(self, event: dict[str, Any]) -> None: ...

    def finish(self) -> tuple[Usage, dict[str, Any]]:
        """The usage and a reconstructed answer object (for the log)."""
        ...


class Parser(Protocol):
    def body(self, obj: Any) -> Usage: ...

    def stream(self) -> Accumulator: ...


def count(value: Any) -> int | None:
    """A token count, or None when absent or not a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


def add(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def tier(value: Any) -> str | None:
    """A recognised service tier (Gemini's ``..._FLEX`` constants included), else None."""
    if not isinstance(value, str):
        return None
    v = value.strip().lower().rsplit("_", 1)[-1]
    return v if v in SERVICE_TIERS else None


def money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() and d >= 0 else None


def sse_events(raw: bytes) -> Iterator[dict[str, Any]]:
    """The JSON objects of an SSE stream's ``data:`` lines (``[DONE]`` and junk skipped)."""
    for line in raw.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if not data or data == b"[DONE]":
            continue
        try:
            obj = json.loads(data)
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj


def json_array_events(raw: bytes) -> Iterator[dict[str, Any]]:
    """The objects of a streamed JSON array, recovering what it can from a cut-off array."""
    text = raw.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,[]":
            i += 1
        if i >= n:
            return
        try:
            obj, i = decoder.raw_decode(text, i)
        except ValueError:
            return
        if isinstance(obj, dict):
            yield obj
