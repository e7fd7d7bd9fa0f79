"""Settings of the storage extension: where the ClickHouse store is and how to reach it."""
from __future__ import annotations

from dataclasses import dataclass, field

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
