"""Builders for OTLP request bodies used by the receiver tests."""
from __future__ import annotations

import os

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span


def kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def pb_span(trace_id: bytes | None = None, span_id: bytes | None = None, name: str = "s",
            parent: bytes = b"", attrs: dict | None = None, start: int = 1_700_000_000_000_000_000,
            end: int = 1_700_000_001_000_000_000) -> Span:
    return Span(trace_id=trace_id if trace_id is not None else os.urandom(16),
                span_id=span_id if span_id is not None else os.urandom(8), parent_span_id=parent, name=name,
                start_time_unix_nano=start, end_time_unix_nano=end,
                attributes=[kv(k, v) for k, v in (attrs or {}).items()])


def pb_request(spans: list[Span], service: str = "svc") -> bytes:
    req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[kv("service.name", service)]),
        scope_spans=[ScopeSpans(spans=spans)])])
    return req.SerializeToString()


def json_span(trace_id: str | None = None, span_id: str | None = None, name: str = "s", **extra) -> dict:
    span = {"traceId": trace_id or os.urandom(16).hex(), "spanId": span_id or os.urandom(8).hex(), "name": name,
            "kind": 1, "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
            "attributes": [], "status": {}}
    span.update(extra)
    return span


def json_request(spans: list[dict], service: str = "svc") -> dict:
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                               "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}
