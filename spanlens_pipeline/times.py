"""Times as the service stores them: integer nanoseconds since the Unix epoch (UTC)."""
from __future__ import annotations

import datetime

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def iso(ns: int) -> str:
    """An ISO 8601 UTC timestamp (microseconds) for ``ns`` nanoseconds since the epoch."""
    return (EPOCH + datetime.timedelta(microseconds=ns // 1000)).isoformat()


def iso_or_none(ns: int | None) -> str | None:
    return None if ns is None else iso(ns)
