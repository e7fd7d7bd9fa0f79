"""The OTLP/HTTP receiver: ``POST /v1/traces`` in protobuf or JSON, optionally gzip/deflate."""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.requests import Request
from starlette.responses import Response

from spanlens_pipeline import metrics
from spanlens_pipeline.body import read_body
from spanlens_pipeline.component import Host, Receiver, Settings
from spanlens_pipeline.errors import UnsupportedMediaType
from spanlens_pipeline.extensions.wal import LoggedConsumer, WalExtension, log_receiver, unlog_receiver
from spanlens_pipeline.http import ERROR_ENCODING, json_response, request_id_of
from spanlens_pipeline.limits import Limits
from spanlens_pipeline.model import RAW_OTLP_PROTOBUF, Batch, RequestContext

from . import decode_json, decode_pb
from .config import Config

PROTOBUF = "application/x-protobuf"
PROTOBUF_ALIASES = frozenset({PROTOBUF, "application/protobuf"})
DECODE_IN_THREAD = 256 * 1024  # bodies at least this large decode in a worker thread
JSON = "application/json"
_EMPTY_PB = ExportTraceServiceResponse().SerializeToString()


class OtlpReceiver(Receiver):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.limits: Limits = config.limits
        self.accepted = metrics.counter("spanlens_receiver_accepted_spans_total", "Spans stored after a 2xx answer")
        self.refused = metrics.counter("spanlens_receiver_refused_spans_total",
                                       "Spans refused by a processor or exporter")
        self.rejected = metrics.counter("spanlens_receiver_rejected_spans_total",
                                        "Invalid spans reported in partialSuccess")
        self.wal: WalExtension | None = None

    async def start(self, host: Host) -> None:
        host.http(self.config.endpoint).add_route(self.config.traces_url_path, self.handle, ["POST"])
        decode = functools.partial(decode_pb.decode, limits=self.limits)
        self.wal = log_receiver(host, self, self.config.wal, {RAW_OTLP_PROTOBUF: decode},
                                raw={RAW_OTLP_PROTOBUF: self.limits})

    async def shutdown(self) -> None:
        await unlog_receiver(self.wal)

    async def handle(self, request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media in PROTOBUF_ALIASES:
            media = PROTOBUF
        if media == PROTOBUF:
            request.scope[ERROR_ENCODING] = "protobuf"
            decoder = decode_pb.decode
        elif media == JSON:
            decoder = decode_json.decode
        else:
            raise UnsupportedMediaType(
                f"Unsupported content type {media or '(none)'!r}; use {PROTOBUF} or {JSON}")
        ctx = RequestContext(headers=dict(request.headers), client=request.client.host if request.client else None,
                             path=request.url.path, request_id=request_id_of(request), write=True)
        await self.next.admit(ctx)
        body = await read_body(request, self.config.max_request_body_size)
        off_loop = len(body) >= DECODE_IN_THREAD
        hand_on: Callable[[], Awaitable[None]]
        if media == PROTOBUF and isinstance(self.next, LoggedConsumer):
            # Logged as it came, once parsed and its ids checked; decoded when the loader stores it.
            stored, answer = await asyncio.to_thread(decode_pb.check, body) if off_loop else decode_pb.check(body)
            hand_on = functools.partial(self.next.consume_raw, RAW_OTLP_PROTOBUF, body, ctx)
        else:
            answer = await asyncio.to_thread(decoder, body, self.limits) if off_loop else decoder(body, self.limits)
            stored = len(answer.spans)
            hand_on = functools.partial(self.next.consume, answer, ctx)
        if answer.rejected:
            self.rejected.inc(answer.rejected, receiver=self.id)
        if stored:
            try:
                await hand_on()
            except Exception:
                self.refused.inc(stored, receiver=self.id)
                raise
            self.accepted.inc(stored, receiver=self.id)
        return self._success(media, answer, ctx)

    @staticmethod
    def _success(media: str, batch: Batch, ctx: RequestContext) -> Response:
        headers = ctx.response_headers or None
        if media in PROTOBUF_ALIASES:
            media = PROTOBUF
            if not batch.rejected:
                return Response(_EMPTY_PB, media_type=PROTOBUF, headers=headers)
            msg = ExportTraceServiceResponse(partial_success=ExportTracePartialSuccess(
                rejected_spans=batch.rejected, error_message=batch.rejected_reason or ""))
            return Response(msg.SerializeToString(), media_type=PROTOBUF, headers=headers)
        if not batch.rejected:
            return json_response({}, headers=headers)
        return json_response({"partialSuccess": {"rejectedSpans": batch.rejected,
                                                 "errorMessage": batch.rejected_reason or ""}}, headers=headers)
