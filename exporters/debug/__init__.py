"""Debug exporter: logs every batch (a summary, or each span with ``verbosity: detailed``)."""
from __future__ import annotations

import logging

from spanlens_pipeline.component import Exporter, Factory, Kind
from spanlens_pipeline.model import Batch, RequestContext

from .config import Config


class DebugExporter(Exporter):
    config: Config

    async def export(self, batch: Batch, ctx: RequestContext) -> None:
        tenant = ctx.tenant.project_name if ctx.tenant else "-"
        self.logger.info("batch: %d spans, %d request rows (project %s)",
                         len(batch.spans), len(batch.requests), tenant)
        if self.config.verbosity == "detailed" and self.logger.isEnabledFor(logging.INFO):
            for s in batch.spans:
                self.logger.info("span %s/%s %r type=%s model=%s tokens=%s/%s cost=%s",
                                 s.trace_id, s.span_id, s.name, s.span_type, s.request_model,
                                 s.input_tokens, s.output_tokens, s.cost_usd)


factory = Factory(type="debug", kind=Kind.EXPORTER, config=Config, create=DebugExporter)
