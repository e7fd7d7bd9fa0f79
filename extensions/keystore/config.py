"""Settings of the keystore extension: where the key store lives."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spanlens_pipeline.confschema import Millis
from spanlens_pipeline.errors import ConfigError

BACKENDS = ("auto", "sqlite", "clickhouse")


@dataclass
class Config:
    # auto: clickhouse when the storage extension is a ClickHouse server (http:// or https://),
    # else sqlite. sqlite: one file per process (``path``). clickhouse: the storage extension's
    # tables, shared by every replica.
    backend: Literal["auto", "sqlite", "clickhouse"] = "auto"
    path: str = "./data/keystore.db"
    storage: str = "storage"  # id of the storage extension (the clickhouse backend's store)
    # clickhouse backend: how often each replica re-reads the key tables into memory.
    refresh_interval: Millis = Millis(2000)
    # On the first start with no key at all, create a full key for project "default" and print it once.
    bootstrap_default_key: bool = True

    def validate(self, path: str) -> None:
        if not self.path:
            raise ConfigError(f"{path}::path", "must not be empty")
        if self.backend != "sqlite" and not self.storage:
            raise ConfigError(f"{path}::storage", "must name the storage extension (or set backend: sqlite)")
        if not 100 <= self.refresh_interval <= 300_000:
            raise ConfigError(f"{path}::refresh_interval", "must be between 100ms and 5m")
