"""Per-span limits shared by both OTLP decoders."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spanlens_pipeline.model import MAX_TIME_NS

FLAG_ATTRIBUTES_DROPPED = "attributes_dropped"
FLAG_VALUE_TRUNCATED = "attribute_value_truncated"
FLAG_EVENTS_DROPPED = "events_dropped"


@dataclass(frozen=True, slots=True)
class Limits:
    max_attributes: int
    max_value_length: int
    max_events: int


def cut_value(value: Any, limit: int) -> tuple[Any, bool]:
    """A string longer than ``limit`` characters is cut; other values pass unchanged."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit], True
    if isinstance(value, list):
        total = sum(len(v) for v in value if isinstance(v, str))
        if total > limit:
            return [v[: max(0, limit // max(1, len(value)))] if isinstance(v, str) else v for v in value], True
    return value, False


FLAG_INVALID_TIMESTAMP = "invalid_timestamp"
# 0 means "not set" in OTLP.


def timestamp(ns: int, flags: list[str]) -> int | None:
    """A start/end time in ns, or None (flagged) when it cannot be stored."""
    if ns == 0:
        return None
    if 0 < ns <= MAX_TIME_NS:
        return ns
    flags.append(FLAG_INVALID_TIMESTAMP)
    return None
