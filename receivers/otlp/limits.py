"""Limits of the OTLP decoders: the frame's ``Limits`` plus the timestamp check."""
from __future__ import annotations

from spanlens_pipeline.limits import (  # noqa: F401  (re-exported for both decoders)
    FLAG_ATTRIBUTES_DROPPED,
    FLAG_EVENTS_DROPPED,
    FLAG_LINKS_DROPPED,
    FLAG_RESOURCE_ATTRIBUTES_DROPPED,
    FLAG_RESOURCE_VALUE_TRUNCATED,
    FLAG_SCOPE_TRUNCATED,
    FLAG_VALUE_TOO_DEEP,
    FLAG_VALUE_TRUNCATED,
    Limits,
    cut_value,
    flatten_deep,
)
from spanlens_pipeline.model import MAX_TIME_NS

FLAG_INVALID_TIMESTAMP = "invalid_timestamp"


def timestamp(ns: int, flags: list[str]) -> int | None:
    """A start/end time in ns, or None (flagged) when it cannot be stored. 0 means "not set"."""
    if ns == 0:
        return None
    if 0 < ns <= MAX_TIME_NS:
        return ns
    flags.append(FLAG_INVALID_TIMESTAMP)
    return None
