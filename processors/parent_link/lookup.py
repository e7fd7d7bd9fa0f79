"""Store look-ups behind order-free ingest: which trace a span lives in, whether a span or
trace was already created, and the waiting "end" of a span whose trace is not yet known.

An "end span" call names only the span. Until its trace is known the record is stored
under ``PENDING_TRACE`` (trace id ``''``); the create call that names the trace copies it
over (see the ingest receiver). Every read filters by project.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from spanlens_pipeline.component import Host
from spanlens_pipeline.model import SpanRecord

PENDING_TRACE = ""


def clickhouse_of(host: Host, exporter_id: str) -> Any | None:
    """The ClickHouse exporter named ``exporter_id`` (the one whose store is read), if configured."""
    for exporter in host.exporters():
        if exporter.id == exporter_id and hasattr(exporter, "open_store"):
            return exporter
    return None


class SpanIndex:
    """Look-ups on the store of a ClickHouse exporter, with a small span → trace memory."""

    def __init__(self, exporter: Any | None, memory: int = 100_000) -> None:
        self.exporter = exporter
        self.memory = memory
        self._traces: OrderedDict[tuple[str, str], str] = OrderedDict()

    def query_sync(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{db}`` is the database); none while no store is open."""
        exporter = self.exporter
        if exporter is None or exporter.store is None:
            return []
        return exporter.store.query(sql.replace("{db}", exporter.db), params)

    async def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{db}`` is the database), run off the event loop."""
        return await asyncio.to_thread(self.query_sync, sql, **params)

    def remember(self, project: str, span_id: str, trace_id: str) -> None:
        key = (project, span_id)
        self._traces[key] = trace_id
        self._traces.move_to_end(key)
        if len(self._traces) > self.memory:
            self._traces.popitem(last=False)

    async def trace_of(self, project: str, span_id: str) -> str | None:
        """The trace a span is stored under (not counting a waiting end), if any."""
        known = self._traces.get((project, span_id))
        if known is not None:
            return known
        rows = await self.query(
            "SELECT trace_id FROM {db}.spans WHERE project_id = %(p)s AND span_id = %(s)s "
            "AND trace_id != '' LIMIT 1", p=project, s=span_id)
        if not rows:
            return None
        self.remember(project, span_id, rows[0]["trace_id"])
        return rows[0]["trace_id"]

    async def created_span(self, project: str, trace_id: str, span_id: str) -> int | None:
        """The start (ns) of a span already created (it has a name), else None."""
        rows = await self.query(
            "SELECT name, toUnixTimestamp64Nano(start_time) AS start FROM {db}.spans FINAL "
            "WHERE project_id = %(p)s AND trace_id = %(t)s AND span_id = %(s)s",
            p=project, t=trace_id, s=span_id)
        return _created(rows)

    async def created_trace(self, project: str, trace_id: str) -> int | None:
        """The start (ns) of a trace already created by a native SDK, else None."""
        rows = await self.query(
            "SELECT name, toUnixTimestamp64Nano(start_time) AS start FROM {db}.trace_meta FINAL "
            "WHERE project_id = %(p)s AND trace_id = %(t)s", p=project, t=trace_id)
        return _created(rows)

    async def pending_end(self, project: str, span_id: str) -> SpanRecord | None:
        """The merged waiting "end" of a span, as a record (trace id still pending)."""
        rows = await self.query(
            "SELECT status_code, status_message, toUnixTimestamp64Nano(end_time) AS end_time, output, "
            "metadata, input_tokens, output_tokens, total_tokens, reported_cost_usd, cost_source, "
            "request_id FROM {db}.spans FINAL WHERE project_id = %(p)s AND trace_id = '' "
            "AND span_id = %(s)s", p=project, s=span_id)
        if not rows:
            return None
        return SpanRecord(trace_id=PENDING_TRACE, span_id=span_id, **rows[0])


def _created(rows: list[dict[str, Any]]) -> int | None:
    if not rows or rows[0]["name"] is None:
        return None
    return rows[0]["start"] or 0
