"""wal extension: receivers answer once a request is in an on-disk log; a loader stores it.

A receiver configured with ``wal: <id>`` hands its batches (or, for OTLP protobuf, the
checked request body itself) to ``LoggedConsumer``, which appends them as one entry and
returns once the entry is durable. Appends that arrive together share one write and one
fdatasync (group commit). The ``Loader`` reads the log in large groups, decodes each
entry, runs it through the receiver's pipelines and, once the store took the whole group,
moves the checkpoint past it. After a crash the entries past the checkpoint are loaded
again; the tables are idempotent, so a replayed entry converges to the same rows.

While the store is down or its disk is full the log grows, up to ``max_size``; beyond
that new requests get ``503 LOG_FULL`` with ``Retry-After``.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable, Iterator
from typing import Any

from spanlens_pipeline import health, metrics
from spanlens_pipeline.component import Consumer, Extension, Factory, Host, Kind, Receiver, Settings, extension_of
from spanlens_pipeline.errors import LogFull, StoreFull, StoreUnavailable
from spanlens_pipeline.model import Batch, RequestContext
from spanlens_pipeline.pipeline import refusing

from .config import Config
from .entry import BATCH, Entry, encode, pack_batch
from .loader import Decoder, Loader
from .segments import HEADER, Segments, frame

__all__ = ["Config", "Decoder", "LoggedConsumer", "WalExtension", "factory", "log_receiver", "unlog_receiver"]

PACK_IN_THREAD = 1000  # records; larger batches are pickled in a worker thread

_appended = metrics.counter("spanlens_wal_appended_entries_total", "Entries written to the write-ahead log")
_refused = metrics.counter("spanlens_wal_refused_entries_total",
                           "Entries refused because the log was full or could not be written")


class WalExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.segments: Segments | None = None
        self.loader: Loader | None = None
        self._waiting: list[tuple[bytes, asyncio.Future]] = []
        self._waiting_bytes = 0
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task | None = None
        self._attached = 0
        self._refused_full = False

    async def start(self, host: Host) -> None:
        cfg = self.config
        self.segments = await asyncio.to_thread(Segments, cfg.directory, cfg.segment_size, cfg.fsync == "always")
        waiting = self.segments.pending_bytes
        if waiting:
            self.logger.warning("%d bytes of acknowledged entries wait in the log; loading them", waiting)
        self.loader = Loader(self.segments, cfg, self.logger)
        self._wake = asyncio.Event()
        self._writer = asyncio.create_task(self._write_loop(), name=f"{self.id}-writer")
        health.register(self, self._readiness)

    def _readiness(self) -> str | None:
        """Not ready from a refusal for room until an append succeeds again or the log is
        below half of ``max_size``."""
        if self._refused_full and self.segments is not None:
            if self.segments.pending_bytes >= self.config.max_size / 2:
                return f"{self.id}: the write-ahead log is full"
            self._refused_full = False
        return None

    async def caught_up(self, timeout_s: float) -> bool:
        """Wait until every entry acknowledged before this call is stored (read-your-writes);
        False when ``timeout_s`` passed first."""
        return self.loader is None or await self.loader.caught_up(timeout_s)

    # -- receivers ----------------------------------------------------------------------
    def attach(self, receiver_id: str, inner: Consumer, decoders: dict[str, Decoder] | None = None,
               raw: dict[str, Any] | None = None) -> LoggedConsumer:
        """Log what ``receiver_id`` accepts; the loader hands it on to ``inner`` later: decoded
        by ``decoders[kind]``, or undecoded to a bulk path for the kinds in ``raw`` (kind → the
        receiver's decode settings)."""
        assert self.loader is not None, "wal extension not started"
        self.loader.add_target(receiver_id, inner, decoders or {}, raw)
        self._attached += 1
        return LoggedConsumer(self, receiver_id, inner)

    async def detach(self) -> None:
        """A receiver stopped; when the last one has, load what is left (within ``drain_timeout``)."""
        self._attached -= 1
        if self._attached == 0 and self.loader is not None:
            await self.loader.stop(self.config.drain_timeout / 1000)

    async def append(self, entry: Entry) -> None:
        """Write ``entry`` to the log; return once it is durable (or raise a 503)."""
        assert self.segments is not None and self._wake is not None, "wal extension not started"
        data = encode(entry)  # framed (its checksum computed) in the writer thread, off the event loop
        if self.segments.pending_bytes + self._waiting_bytes + HEADER.size + len(data) > self.config.max_size:
            _refused.inc(1, reason="full")
            self._refused_full = True
            raise LogFull(headers={"Retry-After": "5"})
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((data, future))
        self._waiting_bytes += HEADER.size + len(data)
        self._wake.set()
        await future

    async def _write_loop(self) -> None:
        assert self.segments is not None and self._wake is not None and self.loader is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._waiting = self._waiting, []
            if not group:
                continue
            try:
                await asyncio.to_thread(self._write, [data for data, _ in group])
            except OSError as exc:
                full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
                self.logger.error("cannot write the log: %s", exc)
                _refused.inc(len(group), reason="disk_full" if full else "io_error")
                err = StoreFull(headers={"Retry-After": "30"}) if full else StoreUnavailable(
                    "The write-ahead log could not be written; retry later", headers={"Retry-After": "5"})
                for _, future in group:
                    if not future.done():
                        future.set_exception(err)
            else:
                _appended.inc(len(group))
                self._refused_full = False
                for _, future in group:
                    if not future.done():
                        future.set_result(None)
                self.loader.wake()
            finally:
                self._waiting_bytes -= sum(HEADER.size + len(data) for data, _ in group)

    def _write(self, payloads: list[bytes]) -> None:
        assert self.segments is not None
        self.segments.append([frame(p) for p in payloads])

    async def shutdown(self) -> None:
        health.unregister(self)
        if self.loader is not None:
            await self.loader.stop(0)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self.segments is not None:
            self.segments.close()


class LoggedConsumer:
    """A receiver's consumer that answers once what it is given is in the log."""

    def __init__(self, wal: WalExtension, receiver_id: str, inner: Consumer) -> None:
        self.wal = wal
        self.receiver_id = receiver_id
        self.inner = inner

    async def admit(self, ctx: RequestContext) -> None:
        await self.inner.admit(ctx)

    @contextlib.contextmanager
    def refusing(self) -> Iterator[None]:
        with refusing(self.inner):
            yield

    async def consume(self, batch: Batch, ctx: RequestContext) -> None:
        if len(batch) >= PACK_IN_THREAD:
            body = await asyncio.to_thread(pack_batch, batch)
        else:
            body = pack_batch(batch)
        await self.consume_raw(BATCH, body, ctx)

    async def consume_raw(self, kind: str, body: bytes, ctx: RequestContext) -> None:
        """Log a request body in a format the receiver registered a decoder for."""
        await self.wal.append(Entry(self.receiver_id, kind, body, ctx.tenant, ctx.request_id, ctx.received_at))


def log_receiver(host: Host, receiver: Receiver, wal_id: str, decoders: dict[str, Callable[[bytes], Batch]] | None
                 = None, raw: dict[str, Any] | None = None) -> WalExtension | None:
    """Put ``receiver``'s output through the log ``wal_id`` (no-op when empty); returns the extension."""
    if not wal_id:
        return None
    wal = extension_of(host, wal_id, WalExtension)
    receiver.next = wal.attach(receiver.id, receiver.next, decoders, raw)
    return wal


async def unlog_receiver(wal: WalExtension | None) -> None:
    if wal is not None:
        await wal.detach()


factory = Factory(type="wal", kind=Kind.EXTENSION, config=Config, create=WalExtension)
