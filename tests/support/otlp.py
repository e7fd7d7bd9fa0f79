"""One OTLP payload builder for every test: spans and export requests in protobuf and JSON,
attribute values in both encodings, and ``send``/``stored`` for one span through a service."""
from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from spanlens_pipeline.extensions.storage import Store

START_NS, END_NS = 1_700_000_000_000_000_000, 1_700_000_001_000_000_000

# The columns ``stored`` reads back.
COLUMNS = ("span_type, provider, operation, request_model, response_model, input_tokens, output_tokens, "
           "cache_read_tokens, cache_write_tokens, reasoning_tokens, total_tokens, cost_usd, reported_cost_usd, "
           "cost_source, session_id, user_id, flags, input, output, attributes")


# -- attribute values -------------------------------------------------------------------
def pb_value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


def kv(key: str, value: Any) -> KeyValue:
    return KeyValue(key=key, value=pb_value(value))


def json_value(v: Any) -> dict:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [json_value(x) for x in v]}}
    return {"stringValue": str(v)}


def json_kvs(attrs: dict[str, Any]) -> list[dict]:
    return [{"key": k, "value": json_value(v)} for k, v in attrs.items()]


# -- protobuf ---------------------------------------------------------------------------
def pb_span(trace_id: bytes | None = None, span_id: bytes | None = None, name: str = "s",
            parent: bytes = b"", attrs: dict | None = None, start: int = START_NS, end: int = END_NS,
            kind: int = 0, events: list[tuple[str, dict[str, Any]]] = ()) -> Span:
    return Span(trace_id=trace_id if trace_id is not None else os.urandom(16),
                span_id=span_id if span_id is not None else os.urandom(8), parent_span_id=parent, name=name,
                kind=kind, start_time_unix_nano=start, end_time_unix_nano=end,
                attributes=[kv(k, v) for k, v in (attrs or {}).items()],
                events=[Span.Event(time_unix_nano=end, name=n, attributes=[kv(k, v) for k, v in a.items()])
                        for n, a in events])


def pb_request(spans: list[Span], service: str | None = "svc") -> bytes:
    resource = Resource(attributes=[kv("service.name", service)]) if service else None
    req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])])
    return req.SerializeToString()


# -- JSON -------------------------------------------------------------------------------
def json_span(trace_id: str | None = None, span_id: str | None = None, name: str = "s", **extra) -> dict:
    span = {"traceId": trace_id or os.urandom(16).hex(), "spanId": span_id or os.urandom(8).hex(), "name": name,
            "kind": 1, "startTimeUnixNano": str(START_NS), "endTimeUnixNano": str(END_NS),
            "attributes": [], "status": {}}
    span.update(extra)
    return span


def json_request(spans: list[dict], service: str = "svc") -> dict:
    return {"resourceSpans": [{"resource": {"attributes": json_kvs({"service.name": service})},
                               "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}


# -- one span through a running service -------------------------------------------------
def send(rs, key: str, attrs: dict[str, Any], name: str = "call", encoding: str = "json",
         events: list[tuple[str, dict[str, Any]]] = ()) -> str:
    """Send one client span with ``attrs`` (and ``events``); returns its fresh trace id."""
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    now = time.time_ns()
    if encoding == "json":
        span = json_span(trace_id, span_id, name, kind=3, startTimeUnixNano=str(now - 1_000_000),
                         endTimeUnixNano=str(now), attributes=json_kvs(attrs),
                         events=[{"timeUnixNano": str(now), "name": n, "attributes": json_kvs(a)} for n, a in events])
        del span["status"]
        r = rs.client().post("/v1/traces", json=json_request([span], service="cost-tests"),
                             headers={"Authorization": f"Bearer {key}"})
    else:
        span = pb_span(bytes.fromhex(trace_id), bytes.fromhex(span_id), name, attrs=attrs, start=now - 1_000_000,
                       end=now, kind=3, events=events)
        r = rs.client().post("/v1/traces", content=pb_request([span], service=None),
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"})
    assert r.status_code == 200, r.text
    return trace_id


def stored(store: Store, trace_id: str) -> dict[str, Any]:
    """The one stored row of a trace's single span."""
    rows = store.query(f"SELECT {COLUMNS} FROM spanlens.spans FINAL WHERE trace_id = %(t)s", {"t": trace_id})
    assert len(rows) == 1, rows
    return rows[0]
