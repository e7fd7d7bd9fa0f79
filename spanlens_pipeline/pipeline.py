"""Pipelines: a processor chain ending in a fan-out to exporters.

A receiver used by several pipelines gets a ``Fanout`` over them; each pipeline has its
own processor instances (as in the Collector) and shares exporter instances.

Self-telemetry is counted here, once for every component, with the Collector's names:
``Observed`` wraps each receiver's consumer (``otelcol_receiver_accepted_spans`` /
``otelcol_receiver_refused_spans``), and ``Pipeline`` counts what each processor takes in
and lets out and what each exporter stored or failed to store.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Iterator
from typing import Any

from . import metrics
from .component import Consumer, Exporter, Processor
from .model import Batch, RawRequest, RequestContext

_accepted = metrics.counter("otelcol_receiver_accepted_spans", "Spans a receiver handed on successfully")
_refused = metrics.counter("otelcol_receiver_refused_spans",
                           "Spans a receiver could not hand on (a request refused before its body was read counts 1)")
_sent = metrics.counter("otelcol_exporter_sent_spans", "Spans an exporter stored")
_send_failed = metrics.counter("otelcol_exporter_send_failed_spans", "Spans an exporter failed to store")
_incoming = metrics.counter("otelcol_processor_incoming_items", "Spans that entered a processor")
_outgoing = metrics.counter("otelcol_processor_outgoing_items", "Spans that left a processor")


def _received(batch: Batch) -> int:
    """Spans of a batch that a client sent (not waiting ends a receiver settles from the store)."""
    return max(len(batch.spans) - len(batch.resolved_ends), 0)


class Pipeline:
    def __init__(self, pipeline_id: str, processors: list[Processor], exporters: list[Exporter]) -> None:
        self.id = pipeline_id
        self.processors = processors
        self.exporters = exporters

    async def admit(self, ctx: RequestContext) -> None:
        for p in self.processors:
            await p.admit(ctx)

    async def consume(self, batch: Batch, ctx: RequestContext) -> None:
        for p in self.processors:
            labels = {"processor": p.id.split("@", 1)[0], "pipeline": self.id}
            _incoming.inc(len(batch.spans), **labels)
            batch = await p.process(batch, ctx)
            _outgoing.inc(len(batch.spans), **labels)
        if len(self.exporters) == 1:
            await _export(self.exporters[0], batch, ctx)
        else:
            # Exporters must not mutate the batch; all must succeed for the request to succeed.
            await asyncio.gather(*(_export(e, batch, ctx) for e in self.exporters))

    async def consume_raw(self, kind: str, requests: list[RawRequest], options: Any) -> tuple[int, list[int]]:
        """Store undecoded ``requests`` through the bulk path when every processor has an SQL step
        and the one exporter stores ``kind``; returns the spans stored and the positions of the
        requests left for the record path."""
        steps = [p.bulk_sql() for p in self.processors]
        if len(self.exporters) != 1 or any(s is None for s in steps):
            return 0, list(range(len(requests)))
        exporter = self.exporters[0]
        stored, left = await exporter.export_raw(kind, requests, [s for s in steps if s is not None], options)
        _sent.inc(stored, exporter=exporter.id)
        return stored, left


async def _export(exporter: Exporter, batch: Batch, ctx: RequestContext) -> None:
    try:
        await exporter.export(batch, ctx)
    except BaseException:
        _send_failed.inc(len(batch.spans), exporter=exporter.id)
        raise
    _sent.inc(len(batch.spans), exporter=exporter.id)


class Observed:
    """A receiver's consumer, counting the spans it accepts and refuses."""

    def __init__(self, receiver_id: str, inner: Consumer, transport: str = "http") -> None:
        self.inner = inner
        self.labels = {"receiver": receiver_id, "transport": transport}

    async def admit(self, ctx: RequestContext) -> None:
        try:
            await self.inner.admit(ctx)
        except Exception:
            _refused.inc(1, **self.labels)  # the body is not read yet: its size is unknown
            raise

    @contextlib.contextmanager
    def refusing(self) -> Iterator[None]:
        """Count one refused span if the block raises (a receiver's own check before ``admit``)."""
        try:
            yield
        except Exception:
            _refused.inc(1, **self.labels)
            raise

    async def consume(self, batch: Batch, ctx: RequestContext) -> None:
        n = _received(batch)
        try:
            await self.inner.consume(batch, ctx)
        except BaseException:
            _refused.inc(n, **self.labels)
            raise
        _accepted.inc(n, **self.labels)


    async def consume_raw(self, kind: str, requests: list[RawRequest], options: Any) -> tuple[int, list[int]]:
        """The bulk path of the pipelines behind (see ``Pipeline.consume_raw``), counting what it stored."""
        raw = getattr(self.inner, "consume_raw", None)
        if raw is None:
            return 0, list(range(len(requests)))
        stored, left = await raw(kind, requests, options)
        _accepted.inc(stored, **self.labels)
        return stored, left


class Fanout:
    """One receiver feeding several pipelines: each gets its own copy of the batch."""

    def __init__(self, pipelines: list[Pipeline]) -> None:
        self.pipelines = pipelines

    async def admit(self, ctx: RequestContext) -> None:
        for p in self.pipelines:
            await p.admit(ctx)

    async def consume(self, batch: Batch, ctx: RequestContext) -> None:
        if len(self.pipelines) == 1:
            await self.pipelines[0].consume(batch, ctx)
            return
        copies = [copy.deepcopy(batch) for _ in self.pipelines[1:]] + [batch]
        await asyncio.gather(*(p.consume(b, ctx) for p, b in zip(self.pipelines, copies, strict=True)))

    async def consume_raw(self, kind: str, requests: list[RawRequest], options: Any) -> tuple[int, list[int]]:
        if len(self.pipelines) == 1:
            return await self.pipelines[0].consume_raw(kind, requests, options)
        return 0, list(range(len(requests)))  # several pipelines: each takes its own copy of the records


def refusing(consumer: Consumer) -> contextlib.AbstractContextManager:
    """``consumer.refusing()`` when it counts refusals (``Observed`` and consumers wrapping one), else a no-op."""
    counts = getattr(consumer, "refusing", None)
    return counts() if counts is not None else contextlib.nullcontext()
