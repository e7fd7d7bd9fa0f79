"""SQL extension: live, read-only SQL over the ClickHouse HTTP protocol on the embedded store.

Unmodified ClickHouse clients (clickhouse-connect, @clickhouse/client, curl, Grafana) query
the service's own chdb store while spans stream in. Every query is checked (``guard``) and
run with ``readonly=1`` and the configured time and memory bounds (``engine``) on a worker
thread, so ingestion keeps running.
"""
from __future__ import annotations

import asyncio
import os
import sys

from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings, extension_of
from spanlens_pipeline.errors import ConfigError
from spanlens_pipeline.extensions.storage import StorageExtension, embedded_path

from . import cli, password
from .config import Config
from .engine import Engine
from .protocol import Credentials, Protocol

__all__ = ["Config", "SqlExtension", "factory"]


class SqlExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.protocol: Protocol | None = None

    def bounds(self) -> dict[str, int]:
        cfg = self.config
        return {"max_execution_time": cfg.max_execution_time, "max_memory_usage": cfg.max_memory_usage,
                "max_result_rows": cfg.max_result_rows, "max_result_bytes": cfg.max_result_bytes,
                "max_threads": os.cpu_count() or 1}

    def password(self) -> str:
        """The configured password, else the one in ``password_file`` (created and printed once)."""
        if self.config.password:
            return self.config.password
        secret, created = password.ensure(self.config.password_file)
        if created:
            print(f"Created the password of SQL user '{self.config.username}' (kept in "
                  f"{self.config.password_file}):\n{secret}", file=sys.stdout, flush=True)
            self.logger.warning("no SQL password was set; created one in %s", self.config.password_file)
        return secret

    async def start(self, host: Host) -> None:
        cfg = self.config
        storage = extension_of(host, cfg.storage, StorageExtension)
        if not storage.embedded:
            raise ConfigError(f"extensions::{self.id}::storage",
                              "the sql extension serves the embedded store only; with a ClickHouse server, "
                              "query the server directly")
        await asyncio.to_thread(lambda: storage.store)  # the engine is open before any handle is taken
        limits = {k: v for k, v in self.bounds().items() if k != "max_threads"}
        engine = Engine(embedded_path(storage.config.endpoint), limits)
        self.protocol = Protocol(engine, Credentials(cfg.username, self.password()), storage.database,
                                 self.bounds(), cfg.max_query_size, cfg.max_concurrent_queries)
        self.protocol.timezone = await asyncio.to_thread(engine.timezone)
        server = host.http(cfg.endpoint)
        server.add_route("/", self.protocol.handle, methods=["GET", "POST"])
        server.add_route("/ping", self.protocol.ping, methods=["GET", "HEAD"])
        self.logger.info("read-only SQL (ClickHouse HTTP) on http://%s as user %s", cfg.endpoint, cfg.username)

    async def shutdown(self) -> None:
        if self.protocol:
            await asyncio.to_thread(self.protocol.close)


factory = Factory(type="sql", kind=Kind.EXTENSION, config=Config, create=SqlExtension, commands=cli.register)
