"""What order-free ingest needs to know: which trace a span lives in, whether a span or
trace was already created, and the waiting "end" of a span whose trace is not yet known.

An "end span" call names only the span. Until its trace is known the record carries
``PENDING_TRACE`` (trace id ``''``) and waits in the ``pending_ends`` table, never in
``spans``; the create call that names the trace copies it into ``spans`` and marks it
resolved (see the ingest receiver). Every store read filters by project.

The storage extension owns one ``SpanIndex``, shared by every component that asks for it
(the ingest receiver, parent linking). It remembers recent creations in memory. With the
embedded store one process owns the data, so memory is authoritative for what this
process wrote and the hot path reads nothing from the store: a create whose id is not
remembered is new (a replay after a restart is written again, which changes nothing), and
the set of waiting ends is loaded at start. With a ClickHouse server several replicas may
write, so a miss is checked in the store.
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from spanlens_pipeline.model import SpanRecord

PENDING_TRACE = ""

# Runs a named query (``queries/<name>.sql``) with parameters; rows as dicts.
NamedQuery = Callable[..., list[dict[str, Any]]]


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
    """Look-ups on the store, backed by what this process wrote.

    ``named`` runs a named query; ``local`` is True when this process owns the store.
    """

    def __init__(self, named: NamedQuery, local: bool, memory: int = 100_000) -> None:
        self.named = named
        self.local = local
        self._traces = _Lru(memory)        # (project, span) → trace
        self._span_starts = _Lru(memory)   # (project, span) → start ns of a created span
        self._trace_starts = _Lru(memory)  # (project, trace) → start ns of a created trace
        self._pending: set[tuple[str, str]] | None = None  # waiting ends (local mode)

    async def query(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of the named query ``name``, run off the event loop."""
        return await asyncio.to_thread(self.named, name, **params)

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
            rows = await self.query("pending_ends")
            self._pending = {(r["project_id"], r["span_id"]) for r in rows}

    # -- questions --------------------------------------------------------------------------
    def maybe_pending(self, project: str, span_id: str) -> bool:
        """Whether a waiting end of this span may exist (local mode knows; otherwise ask the store)."""
        return self._pending is None or (project, span_id) in self._pending

    async def trace_of(self, project: str, span_id: str) -> str | None:
        """The trace a span is stored under (not counting a waiting end), if any."""
        known = self._traces.get((project, span_id))
        if known is not None:
            return known
        rows = await self.query("span_trace", p=project, s=span_id)
        if not rows:  # a create may have been remembered while the store was asked
            return self._traces.get((project, span_id))
        self.remember(project, span_id, rows[0]["trace_id"])
        return rows[0]["trace_id"]

    async def created_span(self, project: str, trace_id: str, span_id: str) -> int | None:
        """The start (ns) of a span already created (it has a name), else None."""
        known = self._span_starts.get((project, span_id))
        if known is not None or self.local:
            return known
        rows = await self.query("span_created", p=project, t=trace_id, s=span_id)
        return _created(rows)

    async def created_trace(self, project: str, trace_id: str) -> int | None:
        """The start (ns) of a trace already created by a native SDK, else None."""
        known = self._trace_starts.get((project, trace_id))
        if known is not None or self.local:
            return known
        rows = await self.query("trace_created", p=project, t=trace_id)
        return _created(rows)

    async def pending_end(self, project: str, span_id: str) -> SpanRecord | None:
        """The merged waiting "end" of a span not yet resolved, as a record (trace id still
        pending). Local mode forgets it here; call ``pending_now`` if storing it fails."""
        if self._pending is not None:
            if (project, span_id) not in self._pending:
                return None
            self._pending.discard((project, span_id))
        rows = await self.query("pending_end", p=project, s=span_id)
        if not rows:
            return None
        return SpanRecord(trace_id=PENDING_TRACE, span_id=span_id, **rows[0])


def _created(rows: list[dict[str, Any]]) -> int | None:
    if not rows or rows[0]["name"] is None:
        return None
    return rows[0]["start"] or 0
