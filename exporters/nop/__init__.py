"""Nop exporter: accepts and discards every batch (the baseline for benchmarks)."""
from __future__ import annotations

from spanlens_pipeline.component import Exporter, Factory, Kind
from spanlens_pipeline.model import Batch, RequestContext

from .config import Config


class NopExporter(Exporter):
    async def export(self, batch: Batch, ctx: RequestContext) -> None:
        return None


factory = Factory(type="nop", kind=Kind.EXPORTER, config=Config, create=NopExporter)
