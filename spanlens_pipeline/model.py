"""The data that flows through a pipeline.

``SpanRecord`` is the one span record: every receiver produces it, every processor edits
it in place, every exporter consumes it. Its fields are the columns of ``spanlens.spans``
(see the README's schema reference). A field left ``None`` means "not known by this
record": the store merges records of the same span field by field, so a partial record
(an "end span" call, say) never erases what an earlier record set.

``Batch`` is what moves from one component to the next: spans plus, for proxied calls,
the request-log records (``RequestRecord``) that go to ``spanlens.requests``, trace-level
records from the native SDKs (``TraceRecord``, ``spanlens.trace_meta``), and the waiting
"end span" records that a batch settles. A span record whose trace is not known yet
(``trace_id`` ``''``) waits in ``spanlens.pending_ends``, never in ``spanlens.spans``.

``RequestContext`` is what a receiver knows about the HTTP request that carried a batch;
the auth processor fills in ``tenant``.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Sources of a span record.
SOURCE_OTLP = "otlp"
SOURCE_INGEST = "ingest"
SOURCE_PROXY = "proxy"

SPAN_TYPES = ("llm", "tool", "retrieval", "embedding", "custom")

# Column limits, defined once; every receiver checks its input against these.
MAX_TIME_NS = 2**63 - 1  # DateTime64(9) ends at 2262-04-11T23:47:16.854775807Z
MAX_COUNT = 2**63 - 1  # Int64 token counts
MAX_COST_USD = Decimal(1_000_000)  # Decimal(18, 12) holds amounts below a million dollars


@dataclass(slots=True)
class SpanRecord:
    """One span, or part of one. Times are integer nanoseconds since the Unix epoch."""

    trace_id: str
    span_id: str
    project_id: str | None = None
    organization_id: str | None = None
    parent_span_id: str | None = None
    name: str | None = None
    kind: str | None = None
    span_type: str | None = None
    service_name: str | None = None
    scope_name: str | None = None
    scope_version: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    status_code: str | None = None
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    resource_attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] | None = None
    links: list[dict[str, Any]] | None = None
    input: str | None = None
    output: str | None = None
    metadata: str | None = None
    source: str | None = None
    provider: str | None = None
    operation: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: Decimal | None = None
    reported_cost_usd: Decimal | None = None
    cost_source: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    request_id: str | None = None
    flags: list[str] = field(default_factory=list)

    def flag(self, name: str) -> None:
        """Add a flag once (flags are a set stored as an array)."""
        if name not in self.flags:
            self.flags.append(name)


# Column order used by the ClickHouse exporter: every SpanRecord field, in declaration order.
SPAN_COLUMNS: tuple[str, ...] = tuple(SpanRecord.__dataclass_fields__)


@dataclass(slots=True)
class TraceRecord:
    """Trace-level facts from a native SDK ("create trace", "end trace"), for ``spanlens.trace_meta``.

    Partial like ``SpanRecord``: ``None`` means "not known by this record". Metadata sent
    at creation and at update are kept apart so the merge never depends on arrival order.
    """

    trace_id: str
    project_id: str | None = None
    organization_id: str | None = None
    name: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    status: str | None = None
    error_message: str | None = None
    create_metadata: str | None = None
    update_metadata: str | None = None


TRACE_COLUMNS: tuple[str, ...] = tuple(TraceRecord.__dataclass_fields__)


@dataclass(slots=True)
class RequestRecord:
    """One proxied call's request-log row, for ``spanlens.requests`` (fields are its columns, in order).

    Token columns follow the spans table: ``prompt_tokens`` is gross (cache reads and writes
    included) and ``completion_tokens`` includes reasoning. ``created_at`` is integer
    nanoseconds since the Unix epoch; the column keeps milliseconds.
    """

    id: str = ""
    created_at: int = 0
    organization_id: str = ""
    project_id: str = ""
    api_key_id: str = ""
    provider_key_id: str | None = None
    provider: str = ""
    model: str = ""
    method: str = ""
    path: str = ""
    status_code: int = 0
    streamed: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: Decimal | None = None
    reported_cost_usd: Decimal | None = None
    latency_ms: float = 0.0
    proxy_overhead_ms: float = 0.0
    duration_ms: float = 0.0
    truncated: bool = False
    service_tier: str = ""
    request_body: str = ""
    response_body: str = ""
    error_message: str | None = None
    trace_id: str = ""
    span_id: str = ""
    parent_span_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    flags: list[str] = field(default_factory=list)

    def flag(self, name: str) -> None:
        """Add a flag once, like ``SpanRecord.flag``."""
        if name not in self.flags:
            self.flags.append(name)


REQUEST_COLUMNS: tuple[str, ...] = tuple(RequestRecord.__dataclass_fields__)


@dataclass(slots=True)
class Batch:
    """Spans, request-log rows (proxied calls) and trace records (native SDKs) handed between components."""

    spans: list[SpanRecord] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    traces: list[TraceRecord] = field(default_factory=list)
    # (project_id, span_id) of waiting ends this batch stores under their trace: the
    # exporter marks them resolved once the batch's spans are written.
    resolved_ends: list[tuple[str, str]] = field(default_factory=list)
    rejected: int = 0
    rejected_reason: str | None = None

    def __len__(self) -> int:
        return len(self.spans) + len(self.requests) + len(self.traces)


RAW_OTLP_PROTOBUF = "otlp-pb"  # raw requests holding a checked ExportTraceServiceRequest


@dataclass(slots=True, frozen=True)
class RawRequest:
    """A request body handed on undecoded, for an exporter that stores the format itself
    (the bulk path): who sent it and when."""

    body: bytes
    tenant: Tenant | None
    received_ns: int


@dataclass(slots=True, frozen=True)
class Tenant:
    """Who sent a request: the organization, project and key that authenticated it."""

    organization_id: str
    project_id: str
    project_name: str
    api_key_id: str
    key_prefix: str
    scope: str  # "full" or "public"

    @property
    def is_public(self) -> bool:
        return self.scope == "public"


@dataclass(slots=True)
class RequestContext:
    """What a receiver knows about the HTTP request behind a batch."""

    headers: dict[str, str]
    client: str | None = None
    path: str = ""
    request_id: str = ""
    write: bool = True
    tenant: Tenant | None = None
    received_at: float = field(default_factory=time.time)
    response_headers: dict[str, str] = field(default_factory=dict)
    # Set by a log's loader: exporters queue their writes here and return at once, so the
    # loader can run many entries through the processors in order and wait for one insert.
    deferred: list[asyncio.Future] | None = None
