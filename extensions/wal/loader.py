"""The loader: drains the log into the receivers' pipelines in large groups.

It reads up to ``max_load_size`` bytes of entries and decodes them (large ones in worker
threads, side by side). Then it runs them through their pipelines one after another, in the
order they were acknowledged (linking an "end" to its span depends on that order), with
the exporters' writes deferred (``RequestContext.deferred``): the group writer joins them
into one insert per table. Once every write of the group is stored the checkpoint moves
past it. Whatever is ready when a group finishes forms the next group, so groups grow
with the load.

An entry whose store refused it for a transient reason (a 503: the store is down, its disk
is full) is tried again with backoff, without moving on, so nothing acknowledged is lost.
An entry that can never be stored (its records are refused as invalid, its receiver is
no longer configured) is logged and skipped, counted in ``spanlens_wal_dropped_entries_total``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spanlens_pipeline import metrics
from spanlens_pipeline.component import Consumer
from spanlens_pipeline.errors import Unavailable
from spanlens_pipeline.model import Batch, RawRequest

from .config import Config
from .entry import BATCH, Entry, decode, unpack_batch
from .segments import HEADER, Segments

Decoder = Callable[[bytes], Batch]
DECODE_IN_THREAD = 64 * 1024  # entry bytes; larger entries are decoded in a worker thread
CHUNK_SPANS = 250  # a large entry's spans go through the processors in chunks, yielding in between
ATTACH_WAIT_S = 10.0  # how long an entry waits for its receiver to start before it is skipped

_loaded = metrics.counter("spanlens_wal_loaded_entries_total", "Log entries stored through their pipelines")
_dropped = metrics.counter("spanlens_wal_dropped_entries_total", "Log entries that could never be stored, skipped")
_retried = metrics.counter("spanlens_wal_load_retries_total", "Groups of entries tried again after a transient refusal")


@dataclass
class _Target:
    consumer: Consumer
    decoders: dict[str, Decoder]
    raw: dict[str, Any]  # kind → the receiver's decode settings, for kinds a bulk path may store undecoded


class _Stopped(Exception):
    """The loader was asked to stop while a group was still being tried."""


class Loader:
    def __init__(self, segments: Segments, config: Config, logger: logging.Logger) -> None:
        self.segments = segments
        self.config = config
        self.logger = logger
        self._targets: dict[str, _Target] = {}
        self._ready = asyncio.Event()
        self._attached = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self.loaded = 0  # bytes of frames stored since open (compare with ``segments.appended``)
        self._progress = asyncio.Event()
        self._urgent = asyncio.Event()  # cuts a linger short
        self._readers = 0  # callers of caught_up waiting now

    def add_target(self, receiver_id: str, consumer: Consumer, decoders: dict[str, Decoder],
                   raw: dict[str, Any] | None = None) -> None:
        self._targets[receiver_id] = _Target(consumer, decoders, raw or {})
        self._attached.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="wal-loader")

    def wake(self) -> None:
        self._ready.set()

    async def stop(self, drain_timeout_s: float) -> None:
        """Load what is in the log for up to ``drain_timeout_s``, then stop (the rest waits on disk)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._ready.set()
        self._urgent.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), drain_timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            pass
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, _Stopped):
                await task
        left = self.segments.pending_bytes
        if left:
            self.logger.warning("%d bytes of acknowledged entries stay in the log for the next start", left)

    async def _run(self) -> None:
        position = self.segments.checkpoint
        loop = asyncio.get_running_loop()
        last = -float("inf")
        while True:
            await self._linger(last + self.config.load_interval / 1000 - loop.time())
            self._ready.clear()
            payloads, end = await asyncio.to_thread(self.segments.read, position, self.config.max_load_size)
            if not payloads:
                if self._stopping:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), 1.0)
                continue
            last = loop.time()
            try:
                await self._load(self._entries(payloads))
            except _Stopped:
                return
            except Exception:  # never let the loader die: the group stays in the log and is tried again
                self.logger.exception("loading %d log entries failed; trying again", len(payloads))
                await asyncio.sleep(self.config.max_retry_interval / 1000)
                continue
            await asyncio.to_thread(self.segments.commit, end)
            position = end
            self.loaded += sum(HEADER.size + len(p) for p in payloads)
            self._progress.set()
            self._progress = asyncio.Event()

    def _entries(self, payloads: list[bytes]) -> list[Entry]:
        """The entries of ``payloads``; one whose frame is whole but whose content cannot be read is skipped."""
        entries = []
        for payload in payloads:
            try:
                entries.append(decode(payload))
            except Exception as exc:
                _dropped.inc(1, receiver="?")
                self.logger.error("a log entry cannot be read and is skipped: %s", exc)
        return entries

    async def _linger(self, wait_s: float) -> None:
        """Let entries gather for up to ``wait_s`` (few large inserts cost less than many small
        ones), unless a reader waits for them, the loader stops or a full group is ready."""
        if wait_s <= 0 or self._stopping or self._readers:
            return
        if self.segments.appended - self.loaded >= self.config.max_load_size:
            return
        self._urgent.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._urgent.wait(), wait_s)

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until everything appended before this call is stored; False if ``timeout_s`` passed first."""
        target = self.segments.appended
        if self.loaded >= target:
            return True
        self._readers += 1
        self._urgent.set()
        try:
            return await self._wait_loaded(target, timeout_s)
        finally:
            self._readers -= 1

    async def _wait_loaded(self, target: int, timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.loaded < target:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._progress.wait(), remaining)
            except TimeoutError:
                return False
        return True

    async def _load(self, entries: list[Entry]) -> None:
        delay = 0.1
        while True:
            outcomes = await self._try(entries)
            again = []
            for entry, outcome in zip(entries, outcomes, strict=True):
                if outcome is None:
                    _loaded.inc(1, receiver=entry.receiver)
                elif isinstance(outcome, Unavailable):
                    again.append(entry)
                else:
                    _dropped.inc(1, receiver=entry.receiver)
                    self.logger.error("log entry of request %s from %s could not be stored and is skipped: %s",
                                      entry.request_id or "-", entry.receiver, outcome)
            if not again:
                return
            if self._stopping:
                raise _Stopped
            _retried.inc(1)
            reason = next(o for o in outcomes if isinstance(o, Unavailable))
            self.logger.warning("the store refused %d log entries (%s); trying again in %.1fs",
                                len(again), reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.max_retry_interval / 1000)
            entries = again

    async def _try(self, entries: list[Entry]) -> list[BaseException | None]:
        """Run ``entries`` through their pipelines in order; per entry, the error that stopped it.
        Entries a bulk path stores undecoded go first, in one call per receiver and kind."""
        outcomes: dict[int, BaseException | None] = await self._try_raw(entries)
        rest = [i for i in range(len(entries)) if i not in outcomes]
        for i, outcome in zip(rest, await self._try_records([entries[i] for i in rest]), strict=True):
            outcomes[i] = outcome
        return [outcomes[i] for i in range(len(entries))]

    async def _try_raw(self, entries: list[Entry]) -> dict[int, BaseException | None]:
        """Hand raw entries to their pipelines' bulk path; the outcome of each entry it took."""
        groups: dict[tuple[str, str], list[int]] = {}
        for i, entry in enumerate(entries):
            target = self._targets.get(entry.receiver)
            if target is not None and entry.kind in target.raw and hasattr(target.consumer, "consume_raw"):
                groups.setdefault((entry.receiver, entry.kind), []).append(i)
        outcomes: dict[int, BaseException | None] = {}
        for (receiver, kind), positions in groups.items():
            target = self._targets[receiver]
            requests = [RawRequest(entries[i].body, entries[i].tenant, int(entries[i].received_at * 1e9))
                        for i in positions]
            try:
                _, left = await target.consumer.consume_raw(kind, requests, target.raw[kind])  # type: ignore[attr-defined]
            except Unavailable as exc:  # the store is down or full: the whole group waits
                outcomes.update((i, exc) for i in positions)
                continue
            except Exception:
                self.logger.exception("the bulk path failed for %d %s entries; storing them as records",
                                      len(positions), kind)
                continue
            skipped = set(left)
            outcomes.update((i, None) for n, i in enumerate(positions) if n not in skipped)
        return outcomes

    async def _try_records(self, entries: list[Entry]) -> list[BaseException | None]:
        """Decode ``entries`` and run them through their pipelines' processors in order.

        The next entry is decoded (in a worker thread when large) while this one is processed:
        one thread beside the event loop, so requests keep their share of the interpreter."""
        outcomes: list[BaseException | None] = []
        writes: list[list[asyncio.Future]] = []
        ahead = asyncio.ensure_future(self._decode(entries[0])) if entries else None
        for n, entry in enumerate(entries):
            assert ahead is not None
            try:
                batch: Batch | BaseException = await ahead
            except Exception as exc:
                batch = exc
            ahead = asyncio.ensure_future(self._decode(entries[n + 1])) if n + 1 < len(entries) else None
            deferred: list[asyncio.Future] = []
            writes.append(deferred)
            if isinstance(batch, BaseException):
                outcomes.append(batch)
                continue
            ctx = entry.context()
            ctx.deferred = deferred
            try:
                for chunk in _chunks(batch):
                    await self._targets[entry.receiver].consumer.consume(chunk, ctx)
                    await asyncio.sleep(0)  # processors rarely suspend: let requests in between
            except Exception as exc:
                outcomes.append(exc)
                continue
            outcomes.append(None)
        for i, deferred in enumerate(writes):
            results = await asyncio.gather(*deferred, return_exceptions=True)
            failed = next((r for r in results if isinstance(r, BaseException)), None)
            if outcomes[i] is None and failed is not None:
                outcomes[i] = failed
        return outcomes

    async def _decode(self, entry: Entry) -> Batch:
        target = await self._target(entry.receiver)
        if entry.kind == BATCH:
            unpack: Decoder = unpack_batch
        else:
            found = target.decoders.get(entry.kind)
            if found is None:
                raise LookupError(f"receiver {entry.receiver!r} has no decoder for {entry.kind!r} entries")
            unpack = found
        if len(entry.body) >= DECODE_IN_THREAD:
            return await asyncio.to_thread(unpack, entry.body)
        return unpack(entry.body)

    async def _target(self, receiver_id: str) -> _Target:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ATTACH_WAIT_S
        while receiver_id not in self._targets:
            if loop.time() >= deadline:
                raise LookupError(f"receiver {receiver_id!r} is not configured")
            self._attached.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._attached.wait(), deadline - loop.time())
        return self._targets[receiver_id]


def _chunks(batch: Batch) -> list[Batch]:
    """``batch`` cut into batches of at most ``CHUNK_SPANS`` spans (one that carries more than
    spans stays whole: its parts belong together)."""
    spans = batch.spans
    if len(spans) <= CHUNK_SPANS or batch.requests or batch.traces or batch.resolved_ends:
        return [batch]
    return [Batch(spans=spans[i:i + CHUNK_SPANS]) for i in range(0, len(spans), CHUNK_SPANS)]
