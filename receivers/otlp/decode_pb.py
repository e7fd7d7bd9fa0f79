"""OTLP protobuf → span records."""
from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanlens_pipeline.errors import MalformedPayload
from spanlens_pipeline.model import SOURCE_OTLP, Batch, SpanRecord
from spanlens_pipeline.semconv import SPAN_KIND_NAMES, STATUS_NAMES, span_type_for_operation

from .limits import (
    FLAG_ATTRIBUTES_DROPPED,
    FLAG_EVENTS_DROPPED,
    FLAG_LINKS_DROPPED,
    FLAG_RESOURCE_ATTRIBUTES_DROPPED,
    FLAG_RESOURCE_VALUE_TRUNCATED,
    FLAG_SCOPE_TRUNCATED,
    FLAG_VALUE_TOO_DEEP,
    FLAG_VALUE_TRUNCATED,
    Limits,
    cut_value,
    flatten_deep,
    timestamp,
)

_ZERO16 = bytes(16)
_ZERO8 = bytes(8)


def any_value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value
    if which == "int_value":
        return v.int_value
    if which == "double_value":
        return v.double_value
    if which == "bool_value":
        return v.bool_value
    if which == "array_value":
        values = v.array_value.values
        strings = [x.string_value for x in values]  # the common case: an array of strings
        return strings if all(strings) else [any_value(x) for x in values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value.hex()
    return None


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def _span_attributes(kvs: Any, limits: Limits, flags: list[str], max_count: int | None = None,
                     max_len: int | None = None, dropped: str = FLAG_ATTRIBUTES_DROPPED,
                     truncated: str = FLAG_VALUE_TRUNCATED) -> dict[str, Any]:
    """Attributes as typed values, within the limits (hot path: common types inlined)."""
    max_count = limits.max_attributes if max_count is None else max_count
    if len(kvs) > max_count:
        flags.append(dropped)
        kvs = kvs[:max_count]
    out: dict[str, Any] = {}
    max_len = limits.max_value_length if max_len is None else max_len
    cut = False
    for kv in kvs:
        v = kv.value
        value = v.string_value  # most gen_ai attributes are strings: one call for them
        if value:
            if len(value) > max_len:
                value, cut = value[:max_len], True
            out[kv.key[:max_len]] = value
            continue
        which = v.WhichOneof("value")
        if which == "string_value":
            pass  # the empty string
        elif which == "int_value":
            value = v.int_value
        elif which == "double_value":
            value = v.double_value
        elif which == "bool_value":
            value = v.bool_value
        else:
            value = any_value(v)
            if isinstance(value, (list, dict)):
                value, deep = flatten_deep(value, limits.max_value_depth)
                if deep:
                    flags.append(FLAG_VALUE_TOO_DEEP)
                if isinstance(value, list):
                    value, was_cut = cut_value(value, max_len)
                    cut = cut or was_cut
                elif len(str(value)) > max_len:
                    value, cut = str(value)[:max_len], True
            elif isinstance(value, str) and len(value) > max_len:  # bytes as hex
                value, cut = value[:max_len], True
        out[kv.key[:max_len]] = value
    if cut:
        flags.append(truncated)
    return out


def _parse(body: bytes) -> Any:
    try:
        return ExportTraceServiceRequest.FromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise MalformedPayload(f"Request body is not a valid ExportTraceServiceRequest ({exc})") from None


def _bad_ids(tid: bytes, sid: bytes, pid: bytes) -> bool:
    """Whether a span's ids cannot be stored (it is rejected in partialSuccess)."""
    return len(tid) != 16 or len(sid) != 8 or tid == _ZERO16 or sid == _ZERO8 or bool(pid and len(pid) != 8)


def _rejected(batch: Batch, rejected: int) -> Batch:
    if rejected:
        batch.rejected = rejected
        batch.rejected_reason = f"{rejected} span(s) had a missing or invalid trace_id/span_id/parent_span_id"
    return batch


def check(body: bytes) -> tuple[int, Batch]:
    """Parse ``body`` and count the spans ``decode`` would store, without building records.

    Returns that count and an empty batch carrying the rejected count, for the answer."""
    req = _parse(body)
    stored = rejected = 0
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                if _bad_ids(sp.trace_id, sp.span_id, sp.parent_span_id):
                    rejected += 1
                else:
                    stored += 1
    return stored, _rejected(Batch(), rejected)


def decode(body: bytes, limits: Limits) -> Batch:
    """Decode an ``ExportTraceServiceRequest``; spans with invalid ids are counted as rejected."""
    req = _parse(body)
    batch = Batch()
    spans = batch.spans
    rejected = 0
    kind_names, status_names = SPAN_KIND_NAMES, STATUS_NAMES
    for rs in req.resource_spans:
        res_flags: list[str] = []
        res_attrs = _span_attributes(rs.resource.attributes, limits, res_flags, limits.max_resource_attributes,
                                     limits.max_resource_value_length, FLAG_RESOURCE_ATTRIBUTES_DROPPED,
                                     FLAG_RESOURCE_VALUE_TRUNCATED)
        service = res_attrs.get("service.name")
        service = service if isinstance(service, str) else None
        for ss in rs.scope_spans:
            scope_flags = list(res_flags)
            scope_name = ss.scope.name or None
            scope_version = ss.scope.version or None
            if scope_name and len(scope_name) > limits.max_scope_length:
                scope_name = scope_name[:limits.max_scope_length]
                scope_flags.append(FLAG_SCOPE_TRUNCATED)
            if scope_version and len(scope_version) > limits.max_scope_length:
                scope_version = scope_version[:limits.max_scope_length]
                scope_flags.append(FLAG_SCOPE_TRUNCATED)
            for sp in ss.spans:
                tid, sid, pid = sp.trace_id, sp.span_id, sp.parent_span_id
                if _bad_ids(tid, sid, pid):
                    rejected += 1
                    continue
                flags: list[str] = list(scope_flags) if scope_flags else []
                attrs = _span_attributes(sp.attributes, limits, flags)
                events = None
                if sp.events:
                    evs = sp.events
                    if len(evs) > limits.max_events:
                        flags.append(FLAG_EVENTS_DROPPED)
                        evs = evs[: limits.max_events]
                    events = [{"time_unix_nano": e.time_unix_nano, "name": e.name[:limits.max_value_length],
                               "attributes": _span_attributes(e.attributes, limits, flags)} for e in evs]
                links = None
                if sp.links:
                    lks = sp.links
                    if len(lks) > limits.max_links:
                        flags.append(FLAG_LINKS_DROPPED)
                        lks = lks[: limits.max_links]
                    links = [{"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex(),
                              "trace_state": l.trace_state[:limits.max_scope_length],
                              "attributes": _span_attributes(l.attributes, limits, flags)}
                             for l in lks]
                op = attrs.get("gen_ai.operation.name")
                code = sp.status.code
                start, end = sp.start_time_unix_nano, sp.end_time_unix_nano
                spans.append(SpanRecord(
                    trace_id=tid.hex(), span_id=sid.hex(),
                    parent_span_id=pid.hex() if pid and pid != _ZERO8 else None,
                    name=sp.name[:limits.max_value_length],
                    kind=kind_names[sp.kind] if 0 <= sp.kind < 6 else "unspecified",
                    span_type=span_type_for_operation(op), operation=op if isinstance(op, str) else None,
                    service_name=service, scope_name=scope_name, scope_version=scope_version,
                    start_time=timestamp(start, flags), end_time=timestamp(end, flags),
                    status_code=status_names[code] if 0 <= code < 3 else "unset",
                    status_message=sp.status.message[:limits.max_value_length] or None,
                    attributes=attrs, resource_attributes=res_attrs, events=events, links=links,
                    source=SOURCE_OTLP, flags=list(dict.fromkeys(flags)) if len(flags) > 1 else flags))
    if rejected:
        batch.rejected = rejected
        batch.rejected_reason = f"{rejected} span(s) had a missing or invalid trace_id/span_id/parent_span_id"
    return batch
