"""Usage extracted from a provider's answer, and the framing helpers the parsers share.

A provider module supplies a ``Parser``: ``body(obj)`` reads a whole JSON answer and
``stream()`` returns an accumulator fed with each decoded stream event. Both end in a
``Usage``. Token counts follow one rule for every provider: ``input_tokens`` is gross
(cache reads and cache writes included) and ``output_tokens`` includes reasoning.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from spanlens_pipeline.amounts import money, token_count
from spanlens_pipeline.amounts import service_tier as tier

__all__ = ["Usage", "Accumulator", "Parser", "count", "add", "tier", "money", "sse_events", "json_array_events"]


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
    """A token count from a provider's usage object (numbers only), or None."""
    return token_count(value, text=False)


def add(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


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
