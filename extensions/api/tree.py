"""One trace as a tree: its ``traces`` rollup row plus its spans, children under parents.

A span whose parent is not in the trace (not arrived, or never sent) is listed at the
root with ``"orphan": true``; so is a span caught in a parent cycle. Shared by
``GET /api/v1/traces/{id}`` and ``spanlens-pipeline traces show``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from spanlens_pipeline.times import iso_or_none as _iso

# Runs one of the storage extension's named queries with parameters; rows as dicts.
Query = Callable[..., list[dict[str, Any]]]

_LAST = 2**63


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


def _money(value: Any) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _json(text: str | None) -> Any:
    """Stored JSON text as its value; other text as it is."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _status(row: dict[str, Any]) -> str:
    if row["status_code"] == "error":
        return "error"
    return "completed" if row["status_code"] == "ok" or row["end_ns"] is not None else "running"


def _node(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["span_id"], "parent_span_id": row["parent_span_id"], "name": row["name"],
        "span_type": row["span_type"], "kind": row["kind"], "source": row["source"],
        "service_name": row["service_name"], "status": _status(row), "status_message": row["status_message"],
        "started_at": _iso(row["start_ns"]), "ended_at": _iso(row["end_ns"]),
        "duration_ns": row["duration_ns"], "duration_ms": _ms(row["duration_ns"]),
        "input": _json(row["input"]), "output": _json(row["output"]), "metadata": _json(row["metadata"]),
        "provider": row["provider"], "model": row["response_model"] or row["request_model"],
        "input_tokens": row["input_tokens"], "output_tokens": row["output_tokens"],
        "total_tokens": row["total_tokens"], "cost_usd": _money(row["cost_usd"] if row["cost_usd"] is not None
                                                              else row["reported_cost_usd"]),
        "cost_source": row["cost_source"], "request_id": row["request_id"], "flags": sorted(row["flags"]),
        "cache_read_tokens": row.get("cache_read_tokens"), "cache_write_tokens": row.get("cache_write_tokens"),
        "reasoning_tokens": row.get("reasoning_tokens"), "attributes": dict(row.get("attributes") or {}),
        "orphan": False, "children": [],
    }


def build_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Span rows → root nodes, each with nested ``children``, ordered by start then id."""
    order = {r["span_id"]: (r["start_ns"] if r["start_ns"] is not None else _LAST, r["span_id"]) for r in rows}
    nodes = {r["span_id"]: _node(r) for r in rows}
    kids: dict[str, list[str]] = {}
    roots: list[str] = []
    for sid, node in nodes.items():
        parent = node["parent_span_id"]
        if parent is None:
            roots.append(sid)
        elif parent in nodes and parent != sid:
            kids.setdefault(parent, []).append(sid)
        else:
            node["orphan"] = True
            roots.append(sid)
    placed: set[str] = set()

    def place(start: str) -> None:
        stack = [start]
        while stack:
            sid = stack.pop()
            placed.add(sid)
            children = sorted(kids.get(sid, ()), key=order.__getitem__)
            nodes[sid]["children"] = [nodes[c] for c in children]
            stack.extend(c for c in children if c not in placed)

    for sid in roots:
        place(sid)
    for sid in sorted(set(nodes) - placed, key=order.__getitem__):  # parent cycles
        if sid not in placed:
            nodes[sid]["orphan"] = True
            roots.append(sid)
            kids[nodes[sid]["parent_span_id"]].remove(sid)
            place(sid)
    roots.sort(key=lambda sid: (nodes[sid]["orphan"], order[sid]))
    return [nodes[sid] for sid in roots]


def load_trace(query: Query, project_id: str, trace_id: str) -> dict[str, Any] | None:
    """The trace ``trace_id`` of ``project_id`` with its span tree, or None if it has no rows."""
    rollup = query("trace_rollup", p=project_id, t=trace_id)
    if not rollup:
        return None
    r = rollup[0]
    spans = build_tree(query("trace_spans", p=project_id, t=trace_id))
    return {
        "id": trace_id, "name": r["name"], "status": r["status"], "error_message": r["error_message"],
        "started_at": _iso(r["start_ns"]), "ended_at": _iso(r["end_ns"]),
        "duration_ns": r["duration_ns"], "duration_ms": _ms(r["duration_ns"]),
        "span_count": r["span_count"], "error_count": r["error_count"],
        "orphan_count": sum(1 for node in spans if node["orphan"]),
        "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"], "total_tokens": r["total_tokens"],
        "total_cost_usd": _money(r["total_cost_usd"]), "metadata": _json(r["metadata"]),
        "spans": spans,
    }
