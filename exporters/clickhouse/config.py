"""Settings of the ClickHouse exporter."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spanlens_pipeline.confschema import Millis
from spanlens_pipeline.errors import ConfigError


@dataclass
class RetryConfig:
    """Retries of a failed insert (transient errors only), before the request gets a 503."""

    enabled: bool = True
    initial_interval: Millis = Millis(100)
    max_interval: Millis = Millis(2000)
    max_elapsed_time: Millis = Millis(15000)


@dataclass
class Config:
    storage: str = "storage"  # id of the storage extension that owns the store
    max_batch_rows: int = 100_000
    # Rows waiting for the store at most; past it new requests get a retryable 503 (back-pressure).
    max_queued_rows: int = 500_000
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)
    # ClickHouse settings of every insert. Rows of one key are folded by FINAL and by merges in
    # insert order either way, so folding them once more while inserting only costs time.
    insert_settings: dict[str, str] = field(default_factory=lambda: {"optimize_on_insert": "0"})
    # OTLP protobuf requests from a write-ahead log: "records" decodes them in Python and runs the
    # processors; "sql" has the embedded store parse them and apply the processors' SQL steps in
    # one INSERT … SELECT (exactly the same rows; see the README for which is faster today).
    otlp_path: Literal["records", "sql"] = "records"

    def validate(self, path: str) -> None:
        if self.max_batch_rows < 1:
            raise ConfigError(f"{path}::max_batch_rows", "must be at least 1")
        if self.max_queued_rows < self.max_batch_rows:
            raise ConfigError(f"{path}::max_queued_rows", "must be at least max_batch_rows")
