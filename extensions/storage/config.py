"""Settings of the storage extension: where the ClickHouse store is and how to reach it."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from spanlens_pipeline.confschema import Millis
from spanlens_pipeline.errors import ConfigError


@dataclass
class Config:
    endpoint: str = "chdb://./data/clickhouse"
    database: str = "spanlens"
    username: str = "default"
    password: str = ""
    create_schema: bool = True
    # A ClickHouse cluster name: migrations run ON CLUSTER with Replicated and Distributed tables
    # (see ``schema``). Empty: a single node.
    cluster: str = ""
    timeout: Millis = Millis(30000)
    # How long start-up waits for a store that cannot be reached yet (e.g. a server still starting).
    startup_timeout: Millis = Millis(60000)
    # ClickHouse settings sent with every statement.
    settings: dict[str, str] = field(default_factory=dict)
    # span → trace entries kept in memory for order-free ingest (see ``index``).
    remembered_spans: int = 100_000
    # Retention per table (``spans``, ``trace_meta``, ``requests``, ``llm_calls``): ``90d``,
    # ``12h``, ``30m``, ``45s``, or 0 for none; applied as ``ALTER TABLE … MODIFY TTL`` at start.
    ttl: dict[str, Any] = field(default_factory=dict)

    def validate(self, path: str) -> None:
        if not self.endpoint.startswith(("chdb://", "http://", "https://")):
            raise ConfigError(f"{path}::endpoint", "must start with chdb://, http:// or https://")
        if not self.database.isidentifier():
            raise ConfigError(f"{path}::database", "must be a plain identifier")
        if self.cluster and not all(c.isalnum() or c in "_-.{}" for c in self.cluster):
            raise ConfigError(f"{path}::cluster", "must be a cluster name (letters, digits, _ - . or a {macro})")
        if self.cluster and self.endpoint.startswith("chdb://"):
            raise ConfigError(f"{path}::cluster", "needs a ClickHouse server endpoint (http:// or https://)")
        if self.remembered_spans < 0:
            raise ConfigError(f"{path}::remembered_spans", "must not be negative")
        for table, value in self.ttl.items():
            if table not in TTL_COLUMNS:
                raise ConfigError(f"{path}::ttl::{table}", "unknown table; one of " + ", ".join(TTL_COLUMNS))
            ttl_seconds(value, f"{path}::ttl::{table}")


# The time each table's retention counts from.
TTL_COLUMNS = {"spans": "toDateTime(ingested_at)", "trace_meta": "toDateTime(ingested_at)",
               "requests": "toDateTime(created_at)", "llm_calls": "hour"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def ttl_seconds(value: Any, path: str) -> int:
    """A retention setting (``90d``, ``24h``, ``0``…) in seconds; 0 means keep forever."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value * 86400
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw]?)\s*", value) if isinstance(value, str) else None
    if not m or (not m.group(2) and m.group(1) != "0"):
        raise ConfigError(path, f"expected a retention such as 90d, 24h or 0, got {value!r}")
    return int(m.group(1)) * _UNITS.get(m.group(2), 0)
