"""What one proxied call leaves behind: an llm span and a request-log row, in one Batch."""
from __future__ import annotations

import json
import secrets
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from spanlens_pipeline.ids import canonical_id
from spanlens_pipeline.model import SOURCE_PROXY, Batch, RequestContext, RequestRecord, SpanRecord, Tenant
from spanlens_pipeline.semconv import span_type_for_operation

from .providers import Provider, operation_of
from .usage import Usage, json_array_events, sse_events

ERROR_MESSAGE_CHARS = 1000
LOG_BODY_MODES = ("full", "meta", "none")


@dataclass(slots=True)
class Exchange:
    """One proxied call as it happens; times are ``perf_counter`` seconds unless noted."""

    provider: Provider
    tenant: Tenant
    ctx: RequestContext
    method: str
    path: str  # upstream path, e.g. /v1/chat/completions
    body: bytes
    parsed: Any
    streamed: bool
    provider_key_id: str
    start_ns: int
    t0: float
    t_send: float = 0.0
    t_headers: float = 0.0
    status: int = 0
    content_type: str = ""
    content_encoding: str = ""
    trace_id: str = ""  # chosen up front (``span_ids``) so the response can name them
    span_id: str = ""
    parent_span_id: str | None = None


def span_ids(headers: dict[str, str]) -> tuple[str, str, str | None]:
    """(trace, span, parent) of a call: a child of the client's ``X-Trace-Id``/``X-Span-Id`` if sent."""
    trace_id = canonical_id(headers.get("x-trace-id"))
    parent = canonical_id(headers.get("x-span-id")) if trace_id else None
    return trace_id or secrets.token_hex(16), secrets.token_hex(8), parent


def read_answer(ex: Exchange, raw: bytes) -> tuple[Usage, str]:
    """Usage and the answer text to log (a stream is logged as the object it rebuilds)."""
    if ex.content_encoding in ("gzip", "deflate"):
        try:
            raw = zlib.decompress(raw, 47)
        except zlib.error:
            pass
    text = raw.decode("utf-8", "replace")
    if ex.status >= 400:
        return Usage(), text
    parser = ex.provider.parser
    if "text/event-stream" in ex.content_type or ex.streamed:
        acc = parser.stream()
        for event in (sse_events(raw) if b"data:" in raw[:4096] else json_array_events(raw)):
            acc.feed(event)
        usage, rebuilt = acc.finish()
        return usage, orjson.dumps(rebuilt).decode()
    try:
        obj = json.loads(text) if text else None
    except ValueError:
        return Usage(), text
    return parser.body(obj), text


def build(ex: Exchange, raw: bytes, truncated: bool, t_end: float, end_ns: int) -> Batch:
    usage, answer = read_answer(ex, raw)
    h = ex.ctx.headers
    mode = h.get("x-spanlens-log-body", "full").strip().lower()
    mode = mode if mode in LOG_BODY_MODES else "full"
    keep_bodies, keep_people = mode == "full", mode != "none"
    user = h.get("x-spanlens-user") if keep_people else None
    session = h.get("x-spanlens-session") if keep_people else None
    trace_id, span_id, parent = (ex.trace_id, ex.span_id, ex.parent_span_id) if ex.trace_id else span_ids(h)
    operation = operation_of(ex.path)
    request_model = ex.provider.request_model(ex.path, ex.parsed)
    request_text = ex.body.decode("utf-8", "replace") if keep_bodies else None
    answer_text = answer if keep_bodies else None
    error = answer[:ERROR_MESSAGE_CHARS] if ex.status >= 400 else None
    tenant = ex.tenant
    tier = usage.service_tier
    span = SpanRecord(
        trace_id=trace_id, span_id=span_id, project_id=tenant.project_id,
        organization_id=tenant.organization_id, parent_span_id=parent,
        name=f"{operation} {usage.model or request_model}" if operation else f"{ex.method} {ex.path}",
        kind="client", span_type=span_type_for_operation(operation) if operation else "llm",
        start_time=ex.start_ns, end_time=end_ns,
        status_code="error" if ex.status >= 400 else "ok", status_message=error,
        attributes={"http.request.method": ex.method, "http.response.status_code": str(ex.status),
                    "url.path": ex.path, **({"gen_ai.response.service_tier": tier} if tier else {})},
        input=request_text, output=answer_text, source=SOURCE_PROXY, provider=ex.provider.name,
        operation=operation, request_model=request_model, response_model=usage.model,
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens, total_tokens=usage.total_tokens,
        reported_cost_usd=usage.reported_cost, session_id=session, user_id=user,
        request_id=ex.ctx.request_id)
    if truncated:
        span.flag("truncated")
    row = RequestRecord(
        id=ex.ctx.request_id, created_at=ex.start_ns,
        organization_id=tenant.organization_id, project_id=tenant.project_id,
        api_key_id=tenant.api_key_id, provider_key_id=ex.provider_key_id,
        provider=ex.provider.name, model=usage.model or request_model or "",
        method=ex.method, path=ex.path, status_code=ex.status, streamed=ex.streamed,
        prompt_tokens=usage.input_tokens, completion_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens, cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens, reasoning_tokens=usage.reasoning_tokens,
        cost_usd=None, reported_cost_usd=usage.reported_cost,
        latency_ms=_ms(ex.t_headers - ex.t_send), proxy_overhead_ms=_ms(ex.t_send - ex.t0),
        duration_ms=_ms(t_end - ex.t0), truncated=truncated, service_tier=tier or "",
        request_body=request_text or "", response_body=answer_text or "", error_message=error,
        trace_id=trace_id, span_id=span_id, parent_span_id=parent,
        user_id=user, session_id=session)
    return Batch(spans=[span], requests=[row])


def _ms(seconds: float) -> float:
    return round(max(0.0, seconds) * 1000, 3)
