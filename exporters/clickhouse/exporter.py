"""The ClickHouse exporter: encodes batches and writes them through the group writer.

A span record whose trace is not known yet (``PENDING_TRACE``) goes to ``pending_ends``,
never to ``spans``; a batch's ``resolved_ends`` become marker rows there (``resolved``
true), written after the batch's spans in the same write.
"""
from __future__ import annotations

import asyncio
import datetime
import functools
import operator
from decimal import Decimal
from typing import Any

import orjson

from spanlens_pipeline import health, metrics
from spanlens_pipeline.bulksql import SqlStep
from spanlens_pipeline.component import Exporter, Host, Settings, extension_of
from spanlens_pipeline.errors import MalformedPayload, StoreError, StoreUnavailable
from spanlens_pipeline.extensions.storage import PENDING_TRACE, StorageExtension
from spanlens_pipeline.model import (
    MAX_TIME_NS,
    RAW_OTLP_PROTOBUF,
    REQUEST_COLUMNS,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
    Batch,
    RawRequest,
    RequestContext,
    RequestRecord,
    SpanRecord,
    TraceRecord,
)
from spanlens_pipeline.times import EPOCH

from . import bulk
from .config import Config
from .part import Part
from .writer import GroupWriter

_bulk_spans = metrics.counter("spanlens_exporter_bulk_spans_total",
                              "OTLP spans stored by the SQL bulk insert (otlp_path: sql)")
_bulk_left = metrics.counter("spanlens_exporter_bulk_record_requests_total",
                             "OTLP requests the SQL bulk insert left for the record path")
_span_values = operator.attrgetter(*SPAN_COLUMNS)
_TIME_INDEXES = tuple(SPAN_COLUMNS.index(c) for c in ("start_time", "end_time"))
_trace_values = operator.attrgetter(*TRACE_COLUMNS)
_TRACE_TIME_INDEXES = tuple(TRACE_COLUMNS.index(c) for c in ("start_time", "end_time"))
_request_values = operator.attrgetter(*REQUEST_COLUMNS)
_REQUEST_CREATED = REQUEST_COLUMNS.index("created_at")
_OPTS = orjson.OPT_NON_STR_KEYS
ENCODE_IN_THREAD = 1000  # records; larger batches are encoded in a worker thread
# The columns of ``pending_ends`` (migration 0020) written from a span record, then ``resolved``.
PENDING_SPAN_COLUMNS: tuple[str, ...] = (
    "trace_id", "span_id", "project_id", "organization_id", "parent_span_id", "name", "kind", "span_type",
    "service_name", "scope_name", "scope_version", "start_time", "end_time", "status_code", "status_message",
    "attributes", "resource_attributes", "events", "links", "input", "output", "metadata", "source", "provider",
    "operation", "request_model", "response_model", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "total_tokens", "cost_usd", "reported_cost_usd", "cost_source",
    "session_id", "user_id", "request_id", "flags")
PENDING_COLUMNS = PENDING_SPAN_COLUMNS + ("resolved",)
_pending_values = operator.attrgetter(*PENDING_SPAN_COLUMNS)
_PENDING_TIME_INDEXES = tuple(PENDING_SPAN_COLUMNS.index(c) for c in ("start_time", "end_time"))


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__}")


@functools.lru_cache(maxsize=4096)
def _second_text(seconds: int) -> str:
    return (EPOCH + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def time_text(ns: int) -> str:
    """``ns`` since the epoch as 'YYYY-MM-DD hh:mm:ss.nnnnnnnnn' (UTC), by integer math: exact for
    every value a DateTime64(9) holds. (A bare number is read by its digit count, not as ns.)"""
    if not 0 <= ns <= MAX_TIME_NS:
        raise ValueError(f"time {ns} ns is outside the DateTime64(9) range")
    seconds, frac = divmod(ns, 1_000_000_000)
    return f"{_second_text(seconds)}.{frac:09d}"


def encode_spans(spans: list[SpanRecord]) -> bytes:
    """JSONCompactEachRow rows in ``SPAN_COLUMNS`` order (times as exact UTC date-time text)."""
    return _encode_compact(spans, _span_values, _TIME_INDEXES)


def encode_pending(spans: list[SpanRecord], resolved: bool = False) -> bytes:
    """JSONCompactEachRow rows in ``PENDING_COLUMNS`` order, each with ``resolved``."""
    return _encode_compact(spans, lambda r: (*_pending_values(r), resolved), _PENDING_TIME_INDEXES)


def encode_traces(traces: list[TraceRecord]) -> bytes:
    """JSONCompactEachRow rows in ``TRACE_COLUMNS`` order, like ``encode_spans``."""
    return _encode_compact(traces, _trace_values, _TRACE_TIME_INDEXES)


def _encode_compact(records: list, values: Any, time_indexes: tuple[int, ...]) -> bytes:
    dumps, ts, te = orjson.dumps, time_indexes[0], time_indexes[1]
    lines = []
    for record in records:
        row = list(values(record))
        if row[ts] is not None:
            row[ts] = time_text(row[ts])
        if row[te] is not None:
            row[te] = time_text(row[te])
        try:
            lines.append(dumps(row, default=_default, option=_OPTS))
        except (orjson.JSONEncodeError, TypeError) as exc:  # e.g. nested deeper than the encoder allows
            raise MalformedPayload(f"A record could not be stored ({exc})") from None
    return b"\n".join(lines)


def encode_requests(requests: list[RequestRecord]) -> bytes:
    """JSONCompactEachRow rows in ``REQUEST_COLUMNS`` order; ``created_at`` as UTC text to the microsecond."""
    dumps, created = orjson.dumps, _REQUEST_CREATED
    lines = []
    for record in requests:
        row = list(_request_values(record))
        seconds, frac = divmod(row[created], 1_000_000_000)
        row[created] = f"{_second_text(seconds)}.{frac // 1000:06d}"
        try:
            lines.append(dumps(row, default=_default, option=_OPTS))
        except (orjson.JSONEncodeError, TypeError) as exc:
            raise MalformedPayload(f"A record could not be stored ({exc})") from None
    return b"\n".join(lines)


class ClickHouseExporter(Exporter):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.writer: GroupWriter | None = None
        self.storage: StorageExtension | None = None
        self.db = "spanlens"

    async def start(self, host: Host) -> None:
        storage = extension_of(host, self.config.storage, StorageExtension)
        self.storage = storage
        self.db = storage.database
        self.writer = GroupWriter(storage.store, self.config.retry_on_failure, self.config.max_batch_rows,
                                  self.config.max_queued_rows, self.config.insert_settings)
        self.writer.start()
        health.register(self, self._readiness)

    def _readiness(self) -> str | None:
        if self.writer is not None and self.writer.disk_full:
            return f"{self.id}: the store's disk is full"
        return None

    async def export(self, batch: Batch, ctx: RequestContext) -> None:
        assert self.writer is not None, "exporter not started"
        if len(batch.spans) + len(batch.traces) >= ENCODE_IN_THREAD:
            parts = await asyncio.to_thread(self._parts, batch, ctx)  # keep the event loop free for other clients
        else:
            parts = self._parts(batch, ctx)
        if ctx.deferred is not None:
            ctx.deferred.append(asyncio.ensure_future(self.writer.write(parts)))
        else:
            await self.writer.write(parts)

    def _parts(self, batch: Batch, ctx: RequestContext) -> list[Part]:
        parts = []
        stored = [s for s in batch.spans if s.trace_id != PENDING_TRACE]
        waiting = [s for s in batch.spans if s.trace_id == PENDING_TRACE]
        if stored:
            parts.append(Part(f"{self.db}.spans", SPAN_COLUMNS, "JSONCompactEachRow",
                              encode_spans(stored), len(stored)))
        if waiting:
            parts.append(Part(f"{self.db}.pending_ends", PENDING_COLUMNS, "JSONCompactEachRow",
                              encode_pending(waiting), len(waiting)))
        if batch.resolved_ends:
            org = ctx.tenant.organization_id if ctx.tenant else ""
            markers = [SpanRecord(PENDING_TRACE, span, project_id=project, organization_id=org)
                       for project, span in batch.resolved_ends]
            parts.append(Part(f"{self.db}.pending_ends", PENDING_COLUMNS, "JSONCompactEachRow",
                              encode_pending(markers, resolved=True), len(markers)))
        if batch.traces:
            parts.append(Part(f"{self.db}.trace_meta", TRACE_COLUMNS, "JSONCompactEachRow",
                              encode_traces(batch.traces), len(batch.traces)))
        if batch.requests:
            parts.append(Part(f"{self.db}.requests", REQUEST_COLUMNS, "JSONCompactEachRow",
                              encode_requests(batch.requests), len(batch.requests)))
        return parts

    async def export_raw(self, kind: str, requests: list[RawRequest], steps: list[SqlStep],
                         options: Any) -> tuple[int, list[int]]:
        """OTLP protobuf requests through the bulk insert (``otlp_path: sql``, embedded store);
        the requests SQL cannot render exactly are left for the record path."""
        everything = list(range(len(requests)))
        if kind != RAW_OTLP_PROTOBUF or self.config.otlp_path != "sql" or self.storage is None \
                or not bulk.supported(self.storage.store):
            return 0, everything
        entries = [bulk.OtlpEntry(r.tenant.organization_id if r.tenant else "", r.tenant.project_id if r.tenant else "",
                                  r.received_ns, r.body) for r in requests]
        try:
            stored, left = await asyncio.to_thread(bulk.insert_what_sql_can, self.storage.store, self.db, entries,
                                                   steps, options, self.config.insert_settings)
        except StoreError as exc:
            if exc.transient or exc.disk_full:
                raise StoreUnavailable(headers={"Retry-After": "5"}) from exc
            raise
        _bulk_spans.inc(stored, exporter=self.id)
        _bulk_left.inc(len(left), exporter=self.id)
        return stored, left

    async def shutdown(self) -> None:
        health.unregister(self)
        if self.writer:
            await self.writer.close()
