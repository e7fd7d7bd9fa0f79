"""Proxy log records, gathered for a moment and stored together.

Each proxied call yields a small batch (one span, one request row). Storing each on its
own costs one insert per call; under load those inserts compete for the CPU with the
calls themselves. The buffer holds records for ``interval`` seconds and hands the
pipeline one batch per tenant (the auth processor stamps one tenant per batch). The
client has its answer already; ``close`` stores whatever is still held.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from spanlens_pipeline.model import Batch, RequestContext

Consume = Callable[[Batch, RequestContext], Awaitable[None]]


class LogBuffer:
    def __init__(self, consume: Consume, interval_s: float, logger: logging.Logger) -> None:
        self.consume = consume
        self.interval_s = interval_s
        self.logger = logger
        self._held: dict[str, tuple[Batch, RequestContext]] = {}
        self._flusher: asyncio.Task | None = None
        self._stores: set[asyncio.Task] = set()

    def add(self, batch: Batch, ctx: RequestContext) -> None:
        key = ctx.tenant.api_key_id if ctx.tenant else ""
        held = self._held.get(key)
        if held is None:
            self._held[key] = (batch, ctx)
        else:
            held[0].spans.extend(batch.spans)
            held[0].requests.extend(batch.requests)
        if self.interval_s <= 0:
            self._flush()
        elif self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.interval_s)
        self._flusher = None
        self._flush()

    def _flush(self) -> None:
        held, self._held = self._held, {}
        for batch, ctx in held.values():
            task = asyncio.get_running_loop().create_task(self._store(batch, ctx))
            self._stores.add(task)
            task.add_done_callback(self._stores.discard)

    async def _store(self, batch: Batch, ctx: RequestContext) -> None:
        try:
            await self.consume(batch, ctx)
        except Exception:
            self.logger.exception("could not store %d proxy log record(s)", len(batch.requests))

    async def close(self) -> None:
        """Store everything held or in flight."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        self._flush()
        if self._stores:
            await asyncio.gather(*list(self._stores), return_exceptions=True)
