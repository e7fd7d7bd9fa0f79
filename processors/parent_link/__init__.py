"""parent_link processor: every span joins its trace's tree, whichever receiver sent it and
in whatever order its parts arrive.

- Ids from receivers other than OTLP (SDK UUIDs, proxy headers) are made canonical, so
  OTLP, ingest and proxy spans of one trace share one id space.
- A span naming itself as its parent loses that parent and is flagged.
- A partial record that names only its span (an SDK "end span") is given the trace the
  span is stored under; if the span is not known yet, it stays pending (see ``lookup``).

Parents are never waited for: a child is stored at once and is linked by id at read time
as soon as its parent row exists.
"""
from __future__ import annotations

from spanlens_pipeline.bulksql import SqlStep, push_flag
from spanlens_pipeline.component import Factory, Host, Kind, Processor, Settings, extension_of
from spanlens_pipeline.extensions.storage import PENDING_TRACE, SpanIndex, StorageExtension
from spanlens_pipeline.ids import canonical_id
from spanlens_pipeline.model import SOURCE_INGEST, SOURCE_OTLP, Batch, RequestContext, SpanRecord

from .config import Config

FLAG_SELF_PARENT = "parent_self_reference"
FLAG_BAD_PARENT = "parent_id_invalid"


class ParentLinkProcessor(Processor):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.index: SpanIndex | None = None

    async def start(self, host: Host) -> None:
        self.index = extension_of(host, self.config.storage, StorageExtension).span_index

    async def process(self, batch: Batch, ctx: RequestContext) -> Batch:
        index = self.index
        assert index is not None, "parent_link processor not started"
        for span in batch.spans:
            if span.source != SOURCE_OTLP:
                _canonical_ids(span)
            parent = span.parent_span_id
            if parent is not None and parent == span.span_id:
                span.parent_span_id = None
                span.flag(FLAG_SELF_PARENT)
            if span.trace_id == PENDING_TRACE:
                span.trace_id = await index.trace_of(span.project_id or "", span.span_id) or PENDING_TRACE
                if span.trace_id == PENDING_TRACE:
                    index.pending_now(span.project_id or "", span.span_id)
            elif span.source == SOURCE_INGEST:
                index.remember(span.project_id or "", span.span_id, span.trace_id)
        return batch

    def bulk_sql(self) -> SqlStep:
        """Bulk path (OTLP only: ids are canonical, traces known): a span naming itself as parent loses it."""
        selfref = "parent_span_id IS NOT NULL AND parent_span_id = span_id"
        return SqlStep(({"parent_span_id": f"if({selfref}, NULL, parent_span_id)",
                         "flags": f"if({selfref}, {push_flag('flags', FLAG_SELF_PARENT)}, flags)"},))


def _canonical_ids(span: SpanRecord) -> None:
    span.span_id = canonical_id(span.span_id) or span.span_id
    if span.trace_id != PENDING_TRACE:
        span.trace_id = canonical_id(span.trace_id) or span.trace_id
    if span.parent_span_id is not None:
        parent = canonical_id(span.parent_span_id)
        if parent is None:
            span.flag(FLAG_BAD_PARENT)
        span.parent_span_id = parent


factory = Factory(type="parent_link", kind=Kind.PROCESSOR, config=Config, create=ParentLinkProcessor)
