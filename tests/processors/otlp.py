"""Helpers: send one span per call over OTLP/HTTP (JSON or protobuf) and read its stored row."""
from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from spanlens_pipeline.extensions.storage import Store

COLUMNS = ("span_type, provider, operation, request_model, response_model, input_tokens, output_tokens, "
           "cache_read_tokens, cache_write_tokens, reasoning_tokens, total_tokens, cost_usd, reported_cost_usd, "
           "cost_source, session_id, user_id, flags, input, output, attributes")


def _json_value(v: Any) -> dict:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [_json_value(x) for x in v]}}
    return {"stringValue": str(v)}


def _kvs(attrs: dict[str, Any]) -> list[dict]:
    return [{"key": k, "value": _json_value(v)} for k, v in attrs.items()]


def _pb_value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


def send(rs, key: str, attrs: dict[str, Any], name: str = "call", encoding: str = "json",
         events: list[tuple[str, dict[str, Any]]] = ()) -> str:
    """Send one span; returns its trace id (fresh and unique)."""
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    now = time.time_ns()
    if encoding == "json":
        span = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": 3,
                "startTimeUnixNano": str(now - 1_000_000), "endTimeUnixNano": str(now), "attributes": _kvs(attrs),
                "events": [{"timeUnixNano": str(now), "name": n, "attributes": _kvs(a)} for n, a in events]}
        body = {"resourceSpans": [{"resource": {"attributes": _kvs({"service.name": "cost-tests"})},
                                   "scopeSpans": [{"scope": {"name": "t"}, "spans": [span]}]}]}
        r = rs.client().post("/v1/traces", json=body, headers={"Authorization": f"Bearer {key}"})
    else:
        span = Span(trace_id=bytes.fromhex(trace_id), span_id=bytes.fromhex(span_id), name=name, kind=3,
                    start_time_unix_nano=now - 1_000_000, end_time_unix_nano=now,
                    attributes=[KeyValue(key=k, value=_pb_value(v)) for k, v in attrs.items()],
                    events=[Span.Event(time_unix_nano=now, name=n,
                                       attributes=[KeyValue(key=k, value=_pb_value(v)) for k, v in a.items()])
                            for n, a in events])
        msg = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])
        r = rs.client().post("/v1/traces", content=msg.SerializeToString(),
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"})
    assert r.status_code == 200, r.text
    return trace_id


def stored(store: Store, trace_id: str) -> dict[str, Any]:
    """The one stored row of a trace's single span."""
    rows = store.query(f"SELECT {COLUMNS} FROM spanlens.spans FINAL WHERE trace_id = %(t)s", {"t": trace_id})
    assert len(rows) == 1, rows
    return rows[0]
