"""Ratelimit extension: customer limits, plan quotas and the platform ceiling for the proxy.

The proxy receiver names this extension (``ratelimit: <id>``) and calls ``check(tenant,
end_user)`` before any upstream call; see README.md for the layers and headers.
"""
from __future__ import annotations

import asyncio
from typing import Any

from spanlens_pipeline import tasks
from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings, extension_of
from spanlens_pipeline.errors import ConfigError, StoreError
from spanlens_pipeline.extensions.keystore import ClickHouseKeyStore, KeyStore, KeystoreExtension
from spanlens_pipeline.extensions.storage import StorageExtension
from spanlens_pipeline.model import Tenant

from . import cli
from .config import Config
from .limiter import Limiter
from .rules import RATE_LIMITS, SharedLimits, open_table
from .shared import SharedBuckets

__all__ = ["Config", "Limiter", "RateLimitExtension", "factory"]

SWEEP_INTERVAL_S = 30.0


class RateLimitExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.limiter: Limiter | None = None
        self._keystore: KeyStore | None = None
        self._storage: StorageExtension | None = None
        self._task: asyncio.Task | None = None

    async def start(self, host: Host) -> None:
        ks_ext = extension_of(host, self.config.keystore, KeystoreExtension)
        shared = ks_ext.store
        if isinstance(shared, ClickHouseKeyStore):
            # Organizations and runtime limits live in ClickHouse, in the key store's snapshot:
            # re-read with the keys every refresh_interval, so a limit set anywhere holds here.
            try:
                runtime = await asyncio.to_thread(SharedLimits, shared)
            except StoreError as exc:
                raise ConfigError(f"extensions::{self.id}::keystore", "runtime limits cannot be read from "
                                  f"{shared.database}.{RATE_LIMITS.name} (apply the migrations: "
                                  f"spanlens-pipeline migrate): {exc}") from None
            self.limiter = Limiter(self.config)
            self.limiter.organizations, self.limiter.org_generation = shared.organization_names, shared.refresh
            self.limiter.runtime = runtime.active
            self.limiter.reload()
        else:
            # Our own connection to the key store file: PRAGMA data_version then reports every
            # other connection's writes (the CLI's, the keystore extension's).
            self._keystore = KeyStore(ks_ext.config.path)
            self.limiter = Limiter(self.config, open_table(self._keystore))
        if self.config.redis:
            self.limiter.shared = SharedBuckets(self.config.redis)
            try:  # refuse to start against a Redis that is not there
                await self.limiter.shared.ping()
            except Exception as exc:
                raise ConfigError(f"extensions::{self.id}::redis", f"cannot reach Redis: {exc}") from None
        if self.config.storage:
            self._storage = extension_of(host, self.config.storage, StorageExtension)
            await asyncio.to_thread(self.sync_quota)
        self._task = asyncio.create_task(self._housekeeping(), name=f"{self.id}-housekeeping")

    def check(self, tenant: Tenant, end_user: str | None = None) -> Any:
        """Admit one proxied call (see ``Limiter.check``): the headers, or with Redis an
        awaitable of them (the in-process path stays synchronous)."""
        assert self.limiter is not None, "ratelimit extension not started"
        if self.limiter.shared is not None:
            return self.limiter.acheck(tenant, end_user)
        return self.limiter.check(tenant, end_user)

    def sync_quota(self) -> None:
        """Raise this month's per-organization counts to what the requests table holds."""
        assert self.limiter is not None and self._storage is not None
        start = self.limiter.month_start
        try:
            rows = self._storage.named("quota_counts", start=start)
        except StoreError as exc:  # the store is down: keep counting in memory
            self.logger.warning("quota counts not read from the store: %s", exc)
            return
        self.limiter.merge_counts({r["organization_id"]: int(r["n"]) for r in rows}, start)

    async def _housekeeping(self) -> None:
        assert self.limiter is not None
        replicas = self._storage is not None and not self._storage.embedded
        interval = SWEEP_INTERVAL_S
        if replicas and self.config.sync_interval:
            interval = min(interval, self.config.sync_interval / 1000)
        while True:
            await asyncio.sleep(interval)
            self.limiter.sweep()
            if replicas:
                await asyncio.to_thread(self.sync_quota)

    async def shutdown(self) -> None:
        await tasks.cancel(self._task)
        if self._keystore:
            self._keystore.close()
        if self.limiter and self.limiter.shared:
            await self.limiter.shared.close()


factory = Factory(type="ratelimit", kind=Kind.EXTENSION, config=Config, create=RateLimitExtension,
                  commands=cli.register)
