"""The native ingest receiver: create/end traces and spans as the Spanlens SDKs send them.

Every call is accepted at once, in any order: a span for a trace not yet created, an end
for a span not yet created, retries and duplicates all converge to the same rows. Calls
for one span (or one trace) are serialised inside the process; across processes each
side writes first and looks second, so one of them always sees the other.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from spanlens_pipeline import metrics
from spanlens_pipeline.component import Host, Receiver, Settings, extension_of
from spanlens_pipeline.errors import BadRequest, ClientGone
from spanlens_pipeline.extensions.storage import PENDING_TRACE, SpanIndex, StorageExtension
from spanlens_pipeline.extensions.wal import WalExtension, log_receiver, unlog_receiver
from spanlens_pipeline.http import REQUEST_ID
from spanlens_pipeline.model import SOURCE_INGEST, Batch, RequestContext, SpanRecord, TraceRecord

from . import validation as v
from . import wire
from .config import Config

PARSE_IN_THREAD = 256 * 1024  # bodies at least this large are parsed in a worker thread
SETTLE_S = 5.0  # at most this long a look-up waits for the log to store what came before it
_SPAN_STATUS = {"error": "error", "completed": "ok", "running": "unset"}


class _KeyLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[tuple, list] = {}

    def hold(self, key: tuple) -> _Held:
        return _Held(self._locks, key)


class _Held:
    """``async with`` holding one key's lock (a plain class: cheaper than a generator per call)."""

    __slots__ = ("_entry", "_key", "_locks")

    def __init__(self, locks: dict[tuple, list], key: tuple) -> None:
        self._locks, self._key = locks, key
        entry = locks.get(key)
        if entry is None:
            entry = locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1  # counted from here, so the entry stays while this waits
        self._entry = entry

    async def __aenter__(self) -> None:
        try:
            await self._entry[0].acquire()
        except BaseException:
            self._drop()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._entry[0].release()
        self._drop()

    def _drop(self) -> None:
        self._entry[1] -= 1
        if not self._entry[1]:
            del self._locks[self._key]


def _new_id() -> tuple[str, str]:
    """A server-made id: (UUID form, canonical hex)."""
    made = uuid.uuid4()
    return str(made), made.hex


Answer = tuple[int, dict[str, Any]]  # status, data
Handler = Callable[[RequestContext, dict[str, Any], str, dict[str, str]], Awaitable[Answer]]


class IngestReceiver(Receiver):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.index: SpanIndex  # the storage extension's, set at start
        self.locks = _KeyLocks()
        self.wal: WalExtension | None = None
        self.accepted = metrics.counter("spanlens_receiver_accepted_spans_total", "Spans stored after a 2xx answer")

    async def start(self, host: Host) -> None:
        self.index = extension_of(host, self.config.storage, StorageExtension).span_index
        http = host.http(self.config.endpoint)
        http.add_asgi_route("/ingest/traces", self._serve(self.create_trace), ["POST"])
        http.add_asgi_route("/ingest/traces/{trace_id}", self._serve(self.update_trace), ["PATCH"])
        http.add_asgi_route("/ingest/traces/{trace_id}/spans", self._serve(self.create_span), ["POST"])
        http.add_asgi_route("/ingest/spans/{span_id}", self._serve(self.update_span), ["PATCH"])
        self.wal = log_receiver(host, self, self.config.wal)

    async def shutdown(self) -> None:
        await unlog_receiver(self.wal)

    def _serve(self, handler: Handler) -> Callable[[dict, Callable, Callable], Awaitable[None]]:
        """A route as raw ASGI: authenticate, read the JSON object body, run ``handler``, answer.
        Errors raised here become the envelope in ``http``."""
        async def app(scope: dict, receive: Callable, send: Callable) -> None:
            headers = wire.headers_of(scope)
            client = scope.get("client")
            ctx = RequestContext(headers=headers, client=client[0] if client else None, path=scope["path"],
                                 request_id=scope[REQUEST_ID], write=True)
            await self.next.admit(ctx)
            try:
                raw = await wire.read_body(receive, headers, self.config.max_request_body_size)
            except ClientGone:
                self.logger.info("client closed the connection during %s %s", scope["method"], scope["path"])
                return
            doc = await asyncio.to_thread(v.parse_object, raw) if len(raw) >= PARSE_IN_THREAD else v.parse_object(raw)
            project = ctx.tenant.project_id if ctx.tenant else ""
            status, data = await handler(ctx, doc, project, scope["path_params"])
            await wire.answer(scope, send, status, data)

        return app

    async def _settled(self) -> None:
        """With a log, wait until what was acknowledged before is stored, so a look-up in the
        store sees it (only before the look-ups that order-free linking depends on)."""
        if self.wal is not None:
            await self.wal.caught_up(SETTLE_S)

    async def _store(self, ctx: RequestContext, spans: list[SpanRecord] | None = None,
                     traces: list[TraceRecord] | None = None, resolved: tuple[str, str] | None = None) -> None:
        """Hand records to the pipeline; ``resolved`` names a waiting end these spans settle."""
        await self.next.consume(Batch(spans=spans or [], traces=traces or [],
                                      resolved_ends=[resolved] if resolved else []), ctx)
        if spans and resolved is None:  # a settled waiting end was counted when it arrived
            self.accepted.inc(len(spans), receiver=self.id)

    # -- traces -------------------------------------------------------------------------
    async def create_trace(self, ctx: RequestContext, doc: dict[str, Any], project: str,
                           params: dict[str, str]) -> Answer:
        name = v.name(doc)
        given = v.optional_id(doc, "id", trace=True)
        shown, trace_id = given or _new_id()
        start = v.time_ns(doc, "started_at") or time.time_ns()
        metadata = v.metadata(doc, self.config.max_metadata_size)
        record = TraceRecord(trace_id, name=name, start_time=start, create_metadata=metadata)
        async with self.locks.hold((project, "trace", trace_id)):
            seen = await self.index.created_trace(project, trace_id) if given else None
            if seen is None:
                await self._store(ctx, traces=[record])
                self.index.created_trace_now(project, trace_id, start)
        return 201 if seen is None else 200, {"id": shown, "started_at": v.iso(start if seen is None else seen)}

    async def update_trace(self, ctx: RequestContext, doc: dict[str, Any], project: str,
                           params: dict[str, str]) -> Answer:
        raw_id = params["trace_id"]
        record = TraceRecord(v.path_id(raw_id, "id", trace=True), status=v.status(doc),
                             end_time=v.time_ns(doc, "ended_at"), error_message=v.text(doc, "error_message"),
                             update_metadata=v.metadata(doc, self.config.max_metadata_size))
        fields = {"status": record.status, "ended_at": doc.get("ended_at") if record.end_time else None,
                  "error_message": record.error_message, "metadata": doc.get("metadata")}
        if all(value is None for value in fields.values()):
            raise BadRequest("No valid fields to update")
        await self._store(ctx, traces=[record])
        return 200, {"id": raw_id, **{k: val for k, val in fields.items() if val is not None}}

    # -- spans --------------------------------------------------------------------------
    async def create_span(self, ctx: RequestContext, doc: dict[str, Any], project: str,
                          params: dict[str, str]) -> Answer:
        trace_id = v.path_id(params["trace_id"], "trace id", trace=True)
        name = v.name(doc)
        given = v.optional_id(doc, "id")
        shown, span_id = given or _new_id()
        parent = v.optional_id(doc, "parent_span_id")
        start = v.time_ns(doc, "started_at") or time.time_ns()
        record = SpanRecord(trace_id, span_id, parent_span_id=parent[1] if parent else None, name=name,
                            span_type=v.span_type(doc), start_time=start, input=v.json_text(doc, "input"),
                            metadata=v.metadata(doc, self.config.max_metadata_size),
                            request_id=v.request_id(doc), source=SOURCE_INGEST)
        async with self.locks.hold((project, "span", span_id)):
            seen = await self.index.created_span(project, trace_id, span_id) if given else None
            if seen is None:
                await self._store(ctx, spans=[record])
                # An end that arrived first waits in pending_ends: store it under the trace
                # and mark it resolved there. Only then is the span remembered as created,
                # so a retry after a failure here settles the end.
                waiting = None
                if self.index.maybe_pending(project, span_id):
                    await self._settled()
                    waiting = await self.index.pending_end(project, span_id)
                if waiting is not None:
                    waiting.trace_id = trace_id
                    try:
                        await self._store(ctx, spans=[waiting], resolved=(project, span_id))
                    except BaseException:
                        self.index.pending_now(project, span_id)  # still waiting
                        raise
                self.index.created_span_now(project, trace_id, span_id, start)
        return 201 if seen is None else 200, {"id": shown, "started_at": v.iso(start if seen is None else seen)}

    async def update_span(self, ctx: RequestContext, doc: dict[str, Any], project: str,
                          params: dict[str, str]) -> Answer:
        raw_id = params["span_id"]
        span_id = v.path_id(raw_id, "id", trace=False)
        status = v.status(doc)
        error_message = v.text(doc, "error_message")
        cost = v.cost(doc, "cost_usd")
        record = SpanRecord(
            PENDING_TRACE, span_id,
            status_code=_SPAN_STATUS.get(status or ("error" if error_message else "")), status_message=error_message,
            end_time=v.time_ns(doc, "ended_at"), output=v.json_text(doc, "output"),
            metadata=v.metadata(doc, self.config.max_metadata_size),
            input_tokens=v.count(doc, "prompt_tokens"), output_tokens=v.count(doc, "completion_tokens"),
            total_tokens=v.count(doc, "total_tokens"), cost_usd=cost, reported_cost_usd=cost,
            cost_source="reported" if cost is not None else None, request_id=v.request_id(doc))
        fields = {"status": status, "ended_at": doc.get("ended_at") if record.end_time else None,
                  "output": doc.get("output") if record.output is not None else None,
                  "error_message": error_message, "metadata": doc.get("metadata"),
                  "prompt_tokens": record.input_tokens, "completion_tokens": record.output_tokens,
                  "total_tokens": record.total_tokens, "cost_usd": doc.get("cost_usd") if cost is not None else None,
                  "request_id": record.request_id}
        if all(value is None for value in fields.values()) and record.output is None:
            raise BadRequest("No valid fields to update")
        async with self.locks.hold((project, "span", span_id)):
            if self.index.local:
                # This process knows every create: the end joins its trace now, or waits (and the
                # create copies it under the trace after itself, so the end's values win).
                record.trace_id = await self.index.trace_of(project, span_id) or PENDING_TRACE
            await self._store(ctx, spans=[record])
            if record.trace_id == PENDING_TRACE and self.index.local:
                self.index.pending_now(project, span_id)
            elif record.trace_id == PENDING_TRACE:
                # Stored as waiting; if the create landed meanwhile (another process), link now.
                await self._settled()
                trace_id = await self.index.trace_of(project, span_id)
                if trace_id is not None:
                    await self._store(ctx, spans=[dataclasses.replace(record, trace_id=trace_id)],
                                      resolved=(project, span_id))
        return 200, {"id": raw_id, **{k: val for k, val in fields.items() if val is not None}}
