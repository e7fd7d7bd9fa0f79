"""Pipelines: a processor chain ending in a fan-out to exporters.

A receiver used by several pipelines gets a ``Fanout`` over them; each pipeline has its
own processor instances (as in the Collector) and shares exporter instances.
"""
from __future__ import annotations

import asyncio
import copy

from .component import Exporter, Processor
from .model import Batch, RequestContext


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
            batch = await p.process(batch, ctx)
        if len(self.exporters) == 1:
            await self.exporters[0].export(batch, ctx)
        else:
            # Exporters must not mutate the batch; all must succeed for the request to succeed.
            await asyncio.gather(*(e.export(batch, ctx) for e in self.exporters))


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
