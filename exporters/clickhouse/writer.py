"""Group commit: many concurrent exports share one INSERT per table.

``GroupWriter.write(parts)`` queues encoded rows and waits. One task takes everything
queued (up to ``max_batch_rows``), runs one insert per table in a worker thread (the
embedded engine releases the GIL), and then answers every waiting caller. While an
insert runs, new requests gather for the next one, so the batch grows with the load and
no timer is needed. A failed shared insert is retried per caller, so one bad request
never fails the others; transient failures are retried with backoff, then reported.

Rows that must survive a store outage are the write-ahead log's job (the ``wal``
extension): it keeps them until a write here succeeds.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

from spanlens_pipeline.errors import InternalError, StoreError, StoreFull, StoreUnavailable
from spanlens_pipeline.extensions.storage import Store

from .config import RetryConfig
from .part import Part

log = logging.getLogger("spanlens_pipeline.exporter.clickhouse")


@dataclass
class _Ticket:
    parts: list[Part]
    future: asyncio.Future
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        self.rows = sum(p.rows for p in self.parts)


class GroupWriter:
    def __init__(self, store: Store, retry: RetryConfig, max_batch_rows: int, max_queued_rows: int = 500_000,
                 settings: dict[str, str] | None = None) -> None:
        self.store = store
        self.settings = settings or None
        self.retry = retry
        self.max_batch_rows = max_batch_rows
        self.max_queued_rows = max_queued_rows
        self.queued_rows = 0
        self._queue: deque[_Ticket] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self.inserts = 0
        self.rows_written = 0
        self.disk_full = False  # set by a disk-full refusal, cleared by the next insert that succeeds

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="clickhouse-writer")

    async def write(self, parts: list[Part]) -> None:
        """Queue rows and return once they are stored (raises a SpanlensError if not)."""
        if self._closing:
            raise StoreUnavailable("The service is shutting down")
        parts = [p for p in parts if p.rows]
        if not parts:
            return
        ticket = _Ticket(parts, asyncio.get_running_loop().create_future())
        if self.queued_rows and self.queued_rows + ticket.rows > self.max_queued_rows:
            # Back-pressure: the store is behind; the client retries later (OTLP treats 503 as retryable).
            raise StoreUnavailable("The store is behind; retry later", headers={"Retry-After": "1"})
        self.queued_rows += ticket.rows
        self._queue.append(ticket)
        self._wake.set()
        try:
            await ticket.future
        finally:
            self.queued_rows -= ticket.rows

    async def close(self) -> None:
        """Stop taking writes, store everything queued, stop the task."""
        self._closing = True
        self._wake.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            group: list[_Ticket] = []
            rows = 0
            while self._queue and (not group or rows + self._queue[0].rows <= self.max_batch_rows):
                t = self._queue.popleft()
                group.append(t)
                rows += t.rows
            await self._commit(group)

    async def _commit(self, group: list[_Ticket]) -> None:
        parts = [p for t in group for p in t.parts]
        try:
            await self._insert_with_retry(parts)
        except StoreError as exc:
            if len(group) > 1 and not exc.transient:
                for t in group:  # isolate the request whose rows the store refused
                    await self._commit([t])
                return
            err = _to_http_error(exc)
            for t in group:
                if not t.future.done():
                    t.future.set_exception(err)
            return
        except Exception:  # never leave a caller waiting
            log.exception("unexpected error while writing")
            for t in group:
                if not t.future.done():
                    t.future.set_exception(InternalError())
            return
        for t in group:
            if not t.future.done():
                t.future.set_result(None)

    async def _insert_with_retry(self, parts: list[Part], retry: bool = True) -> None:
        merged: dict[tuple, list[Part]] = {}
        for p in parts:
            merged.setdefault((p.table, p.columns, p.fmt), []).append(p)
        loop = asyncio.get_running_loop()
        for (table, columns, fmt), same in merged.items():
            body = same[0].body if len(same) == 1 else b"\n".join(p.body for p in same)
            delay = self.retry.initial_interval / 1000
            deadline = loop.time() + self.retry.max_elapsed_time / 1000
            while True:
                try:
                    await asyncio.to_thread(self.store.insert_json, table, columns, body, fmt, self.settings)
                    if self.disk_full:
                        log.warning("the store accepts writes again")
                    self.disk_full = False
                    break
                except StoreError as exc:
                    if exc.disk_full:
                        if not self.disk_full:
                            log.error("the store's disk is full (%s); answering 503 until writes succeed", exc)
                        self.disk_full = True
                        raise  # no point waiting here: space comes back on an operator's time
                    if not (retry and exc.transient and self.retry.enabled) or loop.time() + delay > deadline:
                        raise
                    log.warning("insert into %s failed (%s); retrying in %.1fs", table, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry.max_interval / 1000)
            self.inserts += 1
            self.rows_written += sum(p.rows for p in same)


def _to_http_error(exc: StoreError) -> Exception:
    if exc.disk_full:
        return StoreFull(headers={"Retry-After": "30"})
    if exc.transient:
        return StoreUnavailable(headers={"Retry-After": "5"})
    log.error("the store refused rows: %s", exc)
    return InternalError("The store refused the data")
