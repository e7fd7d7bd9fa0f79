"""OTLP/JSON → span records, written for the OTLP JSON mapping (not protobuf's json_format).

Differences from plain proto3 JSON that matter: trace and span ids are hex strings, enums
are integers, 64-bit integers may be strings or numbers, field names are lowerCamelCase.
Unknown fields are ignored. A span that cannot be read (bad id, wrong types) is rejected
on its own; only a body that is not an ExportTraceServiceRequest at all fails the request.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from spanlens_pipeline.errors import MalformedPayload
from spanlens_pipeline.limits import check_depth
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

_HEX = frozenset("0123456789abcdef")


class _BadSpan(Exception):
    pass



def _obj(value: Any) -> dict[str, Any]:
    """A JSON object field, or an empty one when it is missing or not an object."""
    return value if isinstance(value, dict) else {}

def _id(value: Any, nbytes: int, required: bool) -> str | None:
    """A hex id of ``nbytes`` bytes (lower-cased). Base64 of the right length is also accepted."""
    if value is None or value == "":
        if required:
            raise _BadSpan("missing id")
        return None
    if not isinstance(value, str):
        raise _BadSpan("id is not a string")
    v = value.lower()
    if len(v) == 2 * nbytes and _HEX.issuperset(v):
        if v.strip("0") == "":
            if required:
                raise _BadSpan("all-zero id")
            return None
        return v
    if len(value) == 4 * ((nbytes + 2) // 3):  # some exporters send proto3-default base64
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == nbytes and any(raw):
            return raw.hex()
    raise _BadSpan(f"id {value[:40]!r} is not {2 * nbytes} hex characters")


def _lenient_id(value: Any, nbytes: int) -> str:
    """A link's id: a bad one is kept as empty rather than failing the span."""
    try:
        return _id(value, nbytes, False) or ""
    except _BadSpan:
        return ""


def _int(value: Any) -> int:
    """An OTLP JSON integer (a number or a decimal string) within the 64-bit range."""
    if isinstance(value, bool):
        raise _BadSpan("expected an integer")
    if value is None:
        return 0
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and value.lstrip("-").isdigit() and len(value) <= 21:
        n = int(value)
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    else:
        raise _BadSpan(f"expected an integer, got {value!r}"[:80])
    if not -(2**63) <= n < 2**64:
        raise _BadSpan(f"integer {n} is out of the 64-bit range"[:80])
    return n


def any_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return None
    if "stringValue" in v:
        s = v["stringValue"]
        return s if isinstance(s, str) else str(s)
    if "intValue" in v:
        raw = v["intValue"]
        try:
            n = _int(raw)
        except _BadSpan:  # not a 64-bit integer: keep the text as sent
            return raw if isinstance(raw, str) else None
        return n if -(2**63) <= n < 2**63 else str(n)
    if "doubleValue" in v:
        d = v["doubleValue"]
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            return float(d)
        if isinstance(d, str):
            try:
                return float(d)
            except ValueError:
                return None
        return None
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        arr = v["arrayValue"]
        values = arr.get("values") if isinstance(arr, dict) else None
        return [any_value(x) for x in values] if isinstance(values, list) else []
    if "kvlistValue" in v:
        kvl = v["kvlistValue"]
        values = kvl.get("values") if isinstance(kvl, dict) else None
        return attributes(values) if isinstance(values, list) else {}
    if "bytesValue" in v:
        try:
            return base64.b64decode(v["bytesValue"]).hex()
        except (binascii.Error, ValueError, TypeError):
            return None
    return None


def attributes(kvs: Any) -> dict[str, Any]:
    if not isinstance(kvs, list):
        return {}
    out = {}
    for kv in kvs:
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            out[kv["key"]] = any_value(kv.get("value"))
    return out


def _span_attributes(kvs: Any, limits: Limits, flags: list[str], max_count: int | None = None,
                     max_len: int | None = None, dropped: str = FLAG_ATTRIBUTES_DROPPED,
                     truncated: str = FLAG_VALUE_TRUNCATED) -> dict[str, Any]:
    if not isinstance(kvs, list):
        return {}
    max_count = limits.max_attributes if max_count is None else max_count
    max_len = limits.max_value_length if max_len is None else max_len
    if len(kvs) > max_count:
        flags.append(dropped)
        kvs = kvs[:max_count]
    out = attributes(kvs)
    cut = False
    for key, value in list(out.items()):
        if len(key) > max_len:
            del out[key]
            key, cut = key[:max_len], True
            out[key] = value
        if isinstance(value, (list, dict)):
            value, deep = flatten_deep(value, limits.max_value_depth)
            if deep:
                flags.append(FLAG_VALUE_TOO_DEEP)
                out[key] = value
            if isinstance(value, dict) and len(orjson.dumps(value)) > max_len:
                out[key], cut = orjson.dumps(value).decode()[:max_len], True
                continue
        if isinstance(value, (str, list)):
            new, was_cut = cut_value(value, max_len)
            if was_cut:
                out[key], cut = new, True
    if cut:
        flags.append(truncated)
    return out


def _text(value: Any, limit: int, flags: list[str] | None = None) -> str | None:
    """A non-empty string field, cut to ``limit`` (flagged when ``flags`` is given)."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) > limit:
        if flags is not None:
            flags.append(FLAG_SCOPE_TRUNCATED)
        return value[:limit]
    return value


def _list(obj: Any, key: str) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"'{key}' must be an array")
    return value


def decode(body: bytes, limits: Limits) -> Batch:
    try:
        doc = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"Request body is not valid JSON ({exc})") from None
    check_depth(doc, limits.max_depth)
    if not isinstance(doc, dict):
        raise MalformedPayload("Request body must be a JSON object (ExportTraceServiceRequest)")
    batch = Batch()
    rejected = 0
    reasons: list[str] = []
    for rs in _list(doc, "resourceSpans"):
        if not isinstance(rs, dict):
            raise MalformedPayload("'resourceSpans' items must be objects")
        resource = rs.get("resource")
        res_flags: list[str] = []
        res_attrs = _span_attributes(resource.get("attributes"), limits, res_flags, limits.max_resource_attributes,
                                     limits.max_resource_value_length, FLAG_RESOURCE_ATTRIBUTES_DROPPED,
                                     FLAG_RESOURCE_VALUE_TRUNCATED) if isinstance(resource, dict) else {}
        service = res_attrs.get("service.name")
        service = service if isinstance(service, str) else None
        for ss in _list(rs, "scopeSpans"):
            if not isinstance(ss, dict):
                raise MalformedPayload("'scopeSpans' items must be objects")
            scope = _obj(ss.get("scope"))
            scope_flags = list(res_flags)
            scope_name = _text(scope.get("name"), limits.max_scope_length, scope_flags)
            scope_version = _text(scope.get("version"), limits.max_scope_length, scope_flags)
            for sp in _list(ss, "spans"):
                try:
                    batch.spans.append(_span(sp, res_attrs, service, scope_name, scope_version, limits, scope_flags))
                except _BadSpan as exc:
                    rejected += 1
                    if len(reasons) < 3:
                        reasons.append(str(exc))
    if rejected:
        batch.rejected = rejected
        batch.rejected_reason = f"{rejected} span(s) rejected: " + "; ".join(reasons)
    return batch


def _span(sp: Any, res_attrs: dict, service: str | None, scope_name: str | None,
          scope_version: str | None, limits: Limits, scope_flags: list[str]) -> SpanRecord:
    if not isinstance(sp, dict):
        raise _BadSpan("span is not an object")
    flags: list[str] = list(scope_flags)
    attrs = _span_attributes(sp.get("attributes"), limits, flags)
    events = None
    raw_events = sp.get("events")
    if isinstance(raw_events, list) and raw_events:
        if len(raw_events) > limits.max_events:
            flags.append(FLAG_EVENTS_DROPPED)
            raw_events = raw_events[: limits.max_events]
        events = [{"time_unix_nano": _int(e.get("timeUnixNano")),
                   "name": _text(e.get("name"), limits.max_value_length) or "",
                   "attributes": _span_attributes(e.get("attributes"), limits, flags)}
                  for e in raw_events if isinstance(e, dict)]
    links = None
    raw_links = sp.get("links")
    if isinstance(raw_links, list) and raw_links:
        if len(raw_links) > limits.max_links:
            flags.append(FLAG_LINKS_DROPPED)
            raw_links = raw_links[: limits.max_links]
        links = [{"trace_id": _lenient_id(l.get("traceId"), 16), "span_id": _lenient_id(l.get("spanId"), 8),
                  "trace_state": _text(l.get("traceState"), limits.max_scope_length) or "",
                  "attributes": _span_attributes(l.get("attributes"), limits, flags)}
                 for l in raw_links if isinstance(l, dict)]
    status = _obj(sp.get("status"))
    code = _int(status.get("code"))
    kind = _int(sp.get("kind"))
    name = sp.get("name")
    message = status.get("message")
    op = attrs.get("gen_ai.operation.name")
    return SpanRecord(
        trace_id=_id(sp.get("traceId"), 16, True), span_id=_id(sp.get("spanId"), 8, True),  # type: ignore[arg-type]
        parent_span_id=_id(sp.get("parentSpanId"), 8, False),
        name=name[:limits.max_value_length] if isinstance(name, str) else "",
        kind=SPAN_KIND_NAMES[kind] if 0 <= kind < 6 else "unspecified",
        span_type=span_type_for_operation(op), operation=op if isinstance(op, str) else None,
        service_name=service, scope_name=scope_name, scope_version=scope_version,
        start_time=timestamp(_int(sp.get("startTimeUnixNano")), flags),
        end_time=timestamp(_int(sp.get("endTimeUnixNano")), flags),
        status_code=STATUS_NAMES[code] if 0 <= code < 3 else "unset",
        status_message=_text(message, limits.max_value_length),
        attributes=attrs, resource_attributes=res_attrs, events=events, links=links, source=SOURCE_OTLP,
        flags=list(dict.fromkeys(flags)))
