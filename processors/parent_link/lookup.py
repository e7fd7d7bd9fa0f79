"""What order-free ingest needs to know: which trace a span lives in, whether a span or
trace was already created, and the waiting "end" of a span whose trace is not yet known.

An "end span" call names only the span. Until its trace is known the record is stored
under ``PENDING_TRACE`` (trace id ``''``); the create call that names the trace copies it
over (see the ingest receiver). Every store read filters by project.

One ``SpanIndex`` serves every component that writes through the same ClickHouse exporter
(``index_for``). It remembers recent creations in memory. With the embedded store one
process owns the data, so memory is authoritative for what this process wrote and the
hot path reads nothing from the store: a create whose id is not remembered is new (a
replay after a restart is written again, which changes nothing), and the set of waiting
ends is loaded at start. With a ClickHouse server several replicas may write, so a miss
is checked in the store.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from spanlens_pipeline.component import Host
from spanlens_pipeline.model import SpanRecord
from spanlens_pipeline.store import is_embedded

PENDING_TRACE = ""


def clickhouse_of(host: Host, exporter_id: str) -> Any | None:
    """The ClickHouse exporter named ``exporter_id`` (the one whose store is read), if configured."""
    for exporter in host.exporters():
        if exporter.id == exporter_id and hasattr(exporter, "open_store"):
            return exporter
    return None


_indexes: dict[int, "SpanIndex"] = {}


def index_for(host: Host, exporter_id: str, memory: int = 100_000) -> "SpanIndex":
    """The index shared by every component writing through exporter ``exporter_id``."""
    exporter = clickhouse_of(host, exporter_id)
    key = id(exporter)
    index = _indexes.get(key)
    if index is None or index.exporter is not exporter:
        index = _indexes[key] = SpanIndex(exporter, memory)
    return index


class _Lru(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


class SpanIndex:
    """Look-ups on the store of a ClickHouse exporter, backed by what this process wrote."""

    def __init__(self, exporter: Any | None, memory: int = 100_000) -> None:
        self.exporter = exporter
        self.local = exporter is not None and is_embedded(exporter.config.endpoint)
        self._traces = _Lru(memory)        # (project, span) → trace
        self._span_starts = _Lru(memory)   # (project, span) → start ns of a created span
        self._trace_starts = _Lru(memory)  # (project, trace) → start ns of a created trace
        self._pending: set[tuple[str, str]] | None = None  # waiting ends (local mode)

    def query_sync(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{db}`` is the database); none while no store is open."""
        exporter = self.exporter
        if exporter is None or exporter.store is None:
            return []
        return exporter.store.query(sql.replace("{db}", exporter.db), params)

    async def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of ``sql`` (``{db}`` is the database), run off the event loop."""
        return await asyncio.to_thread(self.query_sync, sql, **params)

    # -- what this process wrote ----------------------------------------------------------
    def remember(self, project: str, span_id: str, trace_id: str) -> None:
        self._traces.put((project, span_id), trace_id)

    def created_span_now(self, project: str, trace_id: str, span_id: str, start: int) -> None:
        self.remember(project, span_id, trace_id)
        self._span_starts.put((project, span_id), start)

    def created_trace_now(self, project: str, trace_id: str, start: int) -> None:
        self._trace_starts.put((project, trace_id), start)

    def pending_now(self, project: str, span_id: str) -> None:
        if self._pending is not None:
            self._pending.add((project, span_id))

    async def load_pending(self) -> None:
        """Local mode: learn the waiting ends already in the store (once, at start)."""
        if self.local and self._pending is None:
            rows = await self.query("SELECT project_id, span_id FROM {db}.spans FINAL WHERE trace_id = ''")
            self._pending = {(r["project_id"], r["span_id"]) for r in rows}

    # -- questions --------------------------------------------------------------------------
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
        known = self._span_starts.get((project, span_id))
        if known is not None or self.local:
            return known
        rows = await self.query(
            "SELECT name, toUnixTimestamp64Nano(start_time) AS start FROM {db}.spans FINAL "
            "WHERE project_id = %(p)s AND trace_id = %(t)s AND span_id = %(s)s",
            p=project, t=trace_id, s=span_id)
        return _created(rows)

    async def created_trace(self, project: str, trace_id: str) -> int | None:
        """The start (ns) of a trace already created by a native SDK, else None."""
        known = self._trace_starts.get((project, trace_id))
        if known is not None or self.local:
            return known
        rows = await self.query(
            "SELECT name, toUnixTimestamp64Nano(start_time) AS start FROM {db}.trace_meta FINAL "
            "WHERE project_id = %(p)s AND trace_id = %(t)s", p=project, t=trace_id)
        return _created(rows)

    async def pending_end(self, project: str, span_id: str) -> SpanRecord | None:
        """The merged waiting "end" of a span, as a record (trace id still pending)."""
        if self._pending is not None:
            if (project, span_id) not in self._pending:
                return None
            self._pending.discard((project, span_id))
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
