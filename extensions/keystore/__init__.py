"""Keystore extension: Spanlens API keys (hashed) and the tenants they belong to.

Two backends with one set of calls (``KeyBackend``): a SQLite file per process (``sqlite``,
the embedded default) or the storage extension's ClickHouse tables (``clickhouse``), which
every replica shares and caches in memory (see ``chstore``).
"""
from __future__ import annotations

import asyncio
import sys
from typing import Any

from spanlens_pipeline import tasks
from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings
from spanlens_pipeline.errors import ConfigError, StoreError
from spanlens_pipeline.extensions.storage import StorageExtension
from spanlens_pipeline.model import Tenant

from . import cli, crypto
from .auth import authenticate, key_from_headers
from .chstore import ClickHouseKeyStore, SharedTable
from .config import Config
from .provider_keys import ProviderKey, ProviderKeys
from .store import KeyBackend, KeyInfo, KeyStore, KeyStoreError, hash_key

__all__ = ["ClickHouseKeyStore", "KeyBackend", "KeyStore", "KeyStoreError", "KeyInfo", "KeystoreExtension", "Config",
           "authenticate", "factory", "hash_key", "key_from_headers", "ProviderKey", "ProviderKeys",
           "SharedTable"]


class KeystoreExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.store: KeyBackend | None = None
        self.provider_keys: ProviderKeys | None = None
        self._task: asyncio.Task | None = None

    def backend(self, storage: Any) -> str:
        """``sqlite`` or ``clickhouse``: the configured backend, ``auto`` resolved against the
        storage extension (None when there is none)."""
        server = isinstance(storage, StorageExtension) and not storage.embedded
        if self.config.backend == "clickhouse" and not server:
            raise ConfigError(f"extensions::{self.id}::backend", "clickhouse needs the storage extension "
                              f"{self.config.storage!r} on a ClickHouse server (endpoint http:// or https://)")
        if self.config.backend == "auto":
            return "clickhouse" if server else "sqlite"
        return self.config.backend

    async def start(self, host: Host) -> None:
        try:  # refuse to start with a malformed ENCRYPTION_KEY (provider keys could not be read)
            crypto.key_from_env()
        except ValueError as exc:
            raise ConfigError(f"env::{crypto.ENV_VAR}", str(exc)) from None
        storage = None
        if self.config.backend != "sqlite":
            try:
                storage = host.extension(self.config.storage)
            except LookupError:
                storage = None
        if self.backend(storage) == "clickhouse":
            assert isinstance(storage, StorageExtension)
            if not storage.is_open:
                raise ConfigError("service::extensions", f"list {self.config.storage!r} before {self.id!r}: "
                                  "the key store lives in its tables")
            self.store = await asyncio.to_thread(ClickHouseKeyStore, storage.store, storage.database,
                                                 self.config.path)
            self._task = asyncio.create_task(self._refresh(), name=f"{self.id}-refresh")
        else:
            self.store = KeyStore(self.config.path)
        self.provider_keys = ProviderKeys(self.store)
        if self.config.bootstrap_default_key and not self.store.has_keys():
            raw, info = self.store.create_key("default", name="bootstrap")
            print(f"Created a key for project 'default' (shown once, store it now):\n{raw}",
                  file=sys.stdout, flush=True)
            self.logger.warning("no API key existed; created key %s for project 'default'", info.prefix)

    async def _refresh(self) -> None:
        """Re-read the shared key tables every ``refresh_interval``; keep the last ones while the store is down."""
        assert isinstance(self.store, ClickHouseKeyStore)
        failing = False
        while True:
            await asyncio.sleep(self.config.refresh_interval / 1000)
            try:
                await asyncio.to_thread(self.store.reload)
            except StoreError as exc:
                if not failing:
                    self.logger.warning("keys not refreshed, answering from the last ones read: %s", exc)
                failing = True
                continue
            if failing:
                self.logger.info("keys refreshed again")
            failing = False

    def open(self, storage: StorageExtension | None = None) -> KeyBackend:
        """A key store of its own (for the CLI; the service uses ``store``). ``storage``: the
        config's storage extension, not started; its migrations are applied first."""
        if self.backend(storage) == "clickhouse":
            assert storage is not None
            if storage.config.create_schema:
                storage.migrate()
            return ClickHouseKeyStore(storage.store, storage.database, self.config.path)
        return KeyStore(self.config.path)

    def authenticate(self, headers: dict[str, str], write: bool) -> Tenant:
        """The tenant behind a request's key (401/403 as ``auth.authenticate``)."""
        assert self.store is not None, "keystore extension not started"
        return authenticate(self.store, headers, write)

    async def shutdown(self) -> None:
        await tasks.cancel(self._task)
        if self.store:
            self.store.close()


factory = Factory(type="keystore", kind=Kind.EXTENSION, config=Config, create=KeystoreExtension,
                  commands=cli.register)
