"""Storage extension: the one ClickHouse store of the service.

It opens the store (embedded chdb or a server), applies the migrations at start and
answers the named read queries. Every component that writes or reads ClickHouse asks the
host for it (``host.extension("storage")``): the clickhouse exporter, the ingest receiver,
parent linking, the api and ratelimit extensions, and the CLI.
"""
from __future__ import annotations

import asyncio
from typing import Any

from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings
from spanlens_pipeline.errors import StoreError

from . import cli, queries, schema
from .config import TTL_COLUMNS, Config, ttl_seconds
from .index import PENDING_TRACE, SpanIndex
from .store import Store, embedded_path, is_embedded

__all__ = ["Config", "PENDING_TRACE", "SpanIndex", "StorageExtension", "Store", "StoreError", "embedded_path",
           "factory", "is_embedded"]


class StorageExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.database = config.database
        self.embedded = is_embedded(config.endpoint)
        self._store: Store | None = None
        self.span_index = SpanIndex(self.named, self.embedded, config.remembered_spans)

    @property
    def store(self) -> Store:
        """The open store (opened on first use, e.g. by a CLI command)."""
        if self._store is None:
            self._store = self.open()
        return self._store

    @property
    def is_open(self) -> bool:
        """Whether the store is open (the extension started, or a command used it)."""
        return self._store is not None

    def use(self, store: Store) -> None:
        """Read through ``store`` instead (the CLI, while a running service owns the embedded store)."""
        self._store = store

    def open(self) -> Store:
        cfg = self.config
        return Store(cfg.endpoint, cfg.username, cfg.password, cfg.settings,
                     send_receive_timeout_s=cfg.timeout / 1000)

    def migrate(self) -> list[schema.Migration]:
        """Apply the migrations not yet applied; return those applied now."""
        return schema.migrate(self.store, self.database, self.config.cluster)

    async def start(self, host: Host) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.startup_timeout / 1000
        delay = 0.25
        while True:
            try:
                await asyncio.to_thread(self._open_and_migrate)
                break
            except StoreError as exc:
                if not exc.transient or loop.time() + delay > deadline:
                    raise
                self.logger.warning("store not reachable yet (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        await self.span_index.load_pending()

    def _open_and_migrate(self) -> None:
        self._store = self.open()
        if self.config.create_schema:
            for m in self.migrate():
                self.logger.info("applied migration %04d_%s", m.version, m.name)
            self.apply_ttl()

    def ttl_target(self, table: str) -> str:
        """Where a table's TTL is set: the table, or on a cluster its ``_local`` tables on every server."""
        if not self.config.cluster:
            return table
        return f"{table}_local " + schema._on(self.config.cluster)

    def apply_ttl(self) -> None:
        """Set (or remove, for 0) each configured table's TTL."""
        for table, value in self.config.ttl.items():
            seconds = ttl_seconds(value, f"storage::ttl::{table}")
            name = "set_ttl" if seconds else "remove_ttl"
            stmt = queries.text(name).replace("{table}", self.ttl_target(table)).replace("{column}", TTL_COLUMNS[table])
            try:
                self.store.command(stmt.replace("{db}", self.database), {"seconds": seconds})
            except StoreError as exc:
                if seconds or "TTL" not in str(exc):  # removing a TTL that is not set is fine
                    raise

    # -- reading ----------------------------------------------------------------------------
    def sql(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of ``statement`` (``{db}`` is the database), as dicts."""
        return self.store.query(statement.replace("{db}", self.database), params)

    def named(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of the named query ``queries/<name>.sql``."""
        return self.sql(queries.text(name), **params)

    def filtered(self, query_name: str, where: str = "1", /, having: str = "1", **params: Any) -> list[dict[str, Any]]:
        """Rows of a named query whose ``{where}`` (and ``{having}``) are filled in: fixed
        fragments that name bound parameters, never values."""
        return self.sql(queries.text(query_name).replace("{where}", where).replace("{having}", having), **params)

    async def anamed(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """``named``, run off the event loop."""
        return await asyncio.to_thread(self.named, name, **params)

    def table(self, name: str) -> str:
        """The qualified name of one of the schema's tables."""
        return f"{self.database}.{name}"


factory = Factory(type="storage", kind=Kind.EXTENSION, config=Config, create=StorageExtension,
                  commands=cli.register)
