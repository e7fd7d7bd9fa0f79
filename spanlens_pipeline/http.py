"""HTTP serving: one server per endpoint, shared by every receiver that names it.

This module is also the one place where errors become HTTP responses: a ``SpanlensError``
raised by any route becomes the envelope ``{"error": {"code", "message", "details",
"requestId"}}``; a request marked as OTLP protobuf gets a ``google.rpc.Status`` body
instead, as the OTLP specification asks. Every response carries ``X-Request-Id``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httptools
import orjson
import uvicorn
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from . import errors, health, metrics

log = logging.getLogger("spanlens_pipeline.http")

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Keys set in the ASGI scope.
REQUEST_ID = "spanlens.request_id"
ERROR_ENCODING = "spanlens.error_encoding"  # "json" (default) or "protobuf"


def request_id_of(request: Request) -> str:
    return request.scope.get(REQUEST_ID) or ""


def _status_protobuf(code: int, message: str) -> bytes:
    """Encode a google.rpc.Status {code, message} by hand (two fields, no dependency)."""
    out = bytearray()
    if code:
        out += b"\x08" + _varint(code)
    raw = message.encode("utf-8", "replace")
    out += b"\x12" + _varint(len(raw)) + raw
    return bytes(out)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


# gRPC codes used in google.rpc.Status for the HTTP statuses we answer with.
_GRPC_CODE = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 500: 13,
              502: 14, 503: 14, 504: 4}


def error_response(exc: errors.SpanlensError, request_id: str, encoding: str = "json") -> Response:
    """The response for an error: the envelope (or a protobuf Status for OTLP protobuf)."""
    headers = {"X-Request-Id": request_id, **exc.headers}
    if exc.status in (429, 503) and "Retry-After" not in headers:
        headers["Retry-After"] = "1"
    if encoding == "protobuf":
        body = _status_protobuf(_GRPC_CODE.get(exc.status, 2), f"{exc.code}: {exc.message}")
        return Response(body, status_code=exc.status, headers=headers, media_type="application/x-protobuf")
    payload = {"error": {"code": exc.code, "message": exc.message, "details": exc.details,
                         "requestId": request_id}}
    return Response(orjson.dumps(payload), status_code=exc.status, headers=headers,
                    media_type="application/json")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type="application/json")


def _assign_request_id(scope: dict, send: Callable) -> Callable:
    """Pick the request id (a client's UUID ``X-Request-Id`` or a new one) and a ``send`` adding it."""
    rid = ""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _UUID_RE.match(candidate):
                rid = candidate
            break
    rid = rid or str(uuid.uuid4())
    scope[REQUEST_ID] = rid
    header = (b"x-request-id", rid.encode())

    async def send_with_id(message: dict) -> None:
        if message["type"] == "http.response.start":
            hdrs = list(message.get("headers", []))
            if not any(k.lower() == b"x-request-id" for k, _ in hdrs):
                hdrs.append(header)
            message["headers"] = hdrs
        await send(message)

    return send_with_id


class RequestIdMiddleware:
    """Pure ASGI middleware: picks the request id and adds ``X-Request-Id`` to the response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _assign_request_id(scope, send))


async def _raw_route(app: Callable, scope: dict, receive: Callable, send: Callable) -> None:
    """Run a raw ASGI app with the request id and the same error mapping as framework routes."""
    started = False
    send_with_id = _assign_request_id(scope, send)

    async def tracked(message: dict) -> None:
        nonlocal started
        started = True
        await send_with_id(message)

    try:
        await app(scope, receive, tracked)
    except errors.SpanlensError as exc:
        if started:
            raise
        await error_response(exc, scope[REQUEST_ID], scope.get(ERROR_ENCODING, "json"))(scope, receive, send_with_id)
    except Exception as exc:
        log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
        if not started:
            await error_response(errors.InternalError(), scope[REQUEST_ID])(scope, receive, send_with_id)


class _AsgiEndpoint:
    """A raw ASGI app as a framework route's endpoint (the framework calls plain objects as ASGI)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        await self.app(scope, receive, send)


async def _spanlens_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.SpanlensError)
    return error_response(exc, request_id_of(request), request.scope.get(ERROR_ENCODING, "json"))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    mapped = {404: errors.NotFound, 405: errors.MethodNotAllowed}.get(exc.status_code)
    err = mapped() if mapped else errors.SpanlensError(str(exc.detail))
    if not mapped:
        err.status, err.code = exc.status_code, "HTTP_ERROR"
    return error_response(err, request_id_of(request), request.scope.get(ERROR_ENCODING, "json"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(errors.InternalError(), request_id_of(request), request.scope.get(ERROR_ENCODING, "json"))


async def _client_gone(request: Request, exc: Exception) -> Response:
    log.info("client closed the connection during %s %s", request.method, request.url.path)
    return Response(status_code=499)


Handler = Callable[[Request], Awaitable[Response]]

# Connection limits (seconds, bytes); module settings so an operator (or a test) can tune them.
HEADER_TIMEOUT_S = 10.0  # from connect (or the last response) to the end of the request headers
KEEP_ALIVE_TIMEOUT_S = 5.0
MAX_HEADER_BYTES = 64 * 1024


def _envelope_bytes(status: int, code: str, message: str) -> bytes:
    body = orjson.dumps({"error": {"code": code, "message": message, "details": None, "requestId": ""}})
    reason = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n"
            % (status, reason, len(body))) + body


class _Http10Cycle(RequestResponseCycle):
    """An HTTP/1.0 exchange: a response without a length goes out as is, ended by closing the
    connection (an HTTP/1.0 client does not know chunked coding)."""

    _until_close = False

    async def send(self, message: Any) -> None:
        if not self.response_started:
            if (message["type"] == "http.response.start" and self.scope["method"] != "HEAD"
                    and message["status"] not in (204, 304)
                    and not any(name.lower() in (b"content-length", b"transfer-encoding")
                                for name, _ in message.get("headers", ()))):
                self._until_close = True
                self.chunked_encoding = False  # no transfer-encoding header
        elif self._until_close and message["type"] == "http.response.body" and not self.response_complete:
            if self.flow.write_paused and not self.disconnected:
                await self.flow.drain()
            if self.disconnected:
                return
            self.transport.write(message.get("body", b""))
            if not message.get("more_body", False):
                self.response_complete = True
                self.message_event.set()
                self.transport.close()
                self.on_response()
            return
        await super().send(message)


class _Rejected(Exception):
    """Raised from a parser callback to stop parsing a request the service refuses."""


class _Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the service's connection limits: a deadline for the request
    headers, a header size bound (431), protocol errors answered with the error envelope (after the
    answers to the requests before them), and a declined ``Upgrade`` served as a plain request."""

    _header_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0  # bytes received since the last request head ended (all of them head, unless in a body)
    _in_body = False  # between the end of a request's headers and the end of its message
    _too_large = False
    _failed = False  # the connection's input is broken: it is answered and closed
    _deferred: bytes | None = None  # that answer, held until the requests before it are answered
    _upgrade_body: bytes | None = None  # framing header of a declined upgrade's body, to parse it on
    _resuming = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _busy(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._busy():
            return
        log.info("closing a connection whose request headers did not arrive within %.0fs", HEADER_TIMEOUT_S)
        self.transport.write(_envelope_bytes(408, "REQUEST_TIMEOUT", "The request headers did not arrive in time"))
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._failed:
            return
        if not self._in_body:
            self._head_bytes += len(data)
        while data:
            try:
                self.parser.feed_data(data)
                data = b""
            except httptools.HttpParserError:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("")
                return
            except httptools.HttpParserUpgrade as exc:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                    return
                self._unsupported_upgrade_warning()
                data = data[exc.args[0]:]
                self._decline_upgrade()
        if not self._in_body and self._head_bytes > MAX_HEADER_BYTES:
            self._too_large = True  # a head still incomplete past the limit (the parser buffers a header whole)
            self.send_400_response("")

    def _decline_upgrade(self) -> None:
        """Go on parsing the connection as HTTP/1.1, as if the request had not asked to upgrade.

        The parser took the upgrade's body as the new protocol's; if there is one, a stand-in head
        with the same framing makes the parser read it as this request's body."""
        if self._upgrade_body is None:
            return
        head = b"POST / HTTP/1.1\r\nhost: -\r\n" + self._upgrade_body + b"\r\n\r\n"
        self._upgrade_body = None
        request = self.url, self.headers, self.scope
        self._resuming = True
        try:
            self.parser.feed_data(head)
        finally:
            self._resuming = False
            self.url, self.headers, self.scope = request

    def on_headers_complete(self) -> None:
        if self._resuming:
            self._in_body = True
            return
        size = len(self.url)
        hosts = 0
        for name, value in self.headers:
            size += len(name) + len(value) + 4
            if name == b"host":
                hosts += 1
        if size > MAX_HEADER_BYTES:
            self._too_large = True
            raise _Rejected
        version = self.parser.get_http_version()
        if hosts > 1 or (hosts == 0 and version == "1.1") or version not in ("1.1", "1.0"):
            raise _Rejected
        if self.parser.should_upgrade() and not self._should_upgrade():
            self._upgrade_body = self._body_framing()
        self._head_bytes = 0
        self._in_body = True
        self._disarm()  # headers are in; the body has its own deadline (body.read_raw)
        super().on_headers_complete()
        if version == "1.0" and self.cycle is not None:
            self.cycle.__class__ = _Http10Cycle  # its task has not run yet

    def _body_framing(self) -> bytes | None:
        for name, value in self.headers:
            if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
                return name + b": " + value
        return None

    def on_message_complete(self) -> None:
        if self._upgrade_body is not None:
            return  # the body follows (see _decline_upgrade)
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._deferred is not None:
            if not self._busy() and not self.transport.is_closing():
                self.transport.write(self._deferred)
                self.transport.close()
        elif not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._failed = True
        if self._too_large:
            payload = _envelope_bytes(431, "HEADERS_TOO_LARGE",
                                      f"Request headers are larger than {MAX_HEADER_BYTES} bytes")
        else:
            payload = _envelope_bytes(400, "BAD_REQUEST", "Invalid HTTP request")
        if self._busy() and not self._in_body:  # a later request is broken: answer the ones before it first
            self._deferred = payload
            self.flow.pause_reading()
            return
        self.transport.write(payload)
        self.transport.close()


class HttpServer:
    """An HTTP endpoint (``host:port``) and its routes."""

    def __init__(self, endpoint: str, *, graceful_timeout_s: float = 30.0) -> None:
        self.endpoint = endpoint
        self.host, self.port = parse_endpoint(endpoint)
        self.app = FastAPI(title="Spanlens Pipeline", docs_url=None, redoc_url=None, openapi_url=None)
        self.app.add_exception_handler(errors.ClientGone, _client_gone)
        self.app.add_exception_handler(ClientDisconnect, _client_gone)
        self.app.add_exception_handler(errors.SpanlensError, _spanlens_error)
        self.app.add_exception_handler(StarletteHTTPException, _http_error)
        self.app.add_exception_handler(Exception, _unexpected)
        self.app.add_middleware(RequestIdMiddleware)
        self.app.router.add_route("/health", self._health, methods=["GET"])
        self.app.router.add_route("/metrics", self._metrics, methods=["GET"])
        self.healthy = False
        self._graceful_timeout_s = graceful_timeout_s
        self._server: _Server | None = None
        self._task: asyncio.Task | None = None
        self._prefixes: list[tuple[str, Callable]] = []
        self._routes: dict[str, list[tuple[re.Pattern, Callable]]] = {}  # method → (path, raw app)

    def add_route(self, path: str, handler: Handler, methods: list[str]) -> None:
        self.app.router.add_route(path, handler, methods=methods)

    def add_asgi_prefix(self, prefix: str, app: Callable) -> None:
        """Serve ``prefix`` and every path under it with a raw ASGI app, ahead of the framework.

        The app still gets the request id (``scope[REQUEST_ID]``, ``X-Request-Id``) and
        its ``SpanlensError``s become the error envelope, as on framework routes.
        """
        self._prefixes.append((prefix.rstrip("/"), app))

    def add_asgi_route(self, path: str, app: Callable, methods: list[str]) -> None:
        """Serve ``path`` for ``methods`` with a raw ASGI app, ahead of the framework.

        ``{name}`` in ``path`` matches one path segment, given in ``scope["path_params"]``.
        The request id and error envelope are as on ``add_asgi_prefix``. The route is also
        registered with the framework, so what does not match exactly (another method, a
        trailing slash) is answered there as before (405 with ``Allow``, a redirect, 404).
        """
        parts = re.split(r"\{(\w+)\}", path)  # literal, name, literal, name, …, literal
        pattern = re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)"
                                     for i, part in enumerate(parts)))
        for method in methods:
            self._routes.setdefault(method.upper(), []).append((pattern, app))
        self.app.router.routes.append(Route(path, _AsgiEndpoint(app), methods=methods))

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and self._routes:
            routes = self._routes.get(scope["method"])
            if routes:
                path = scope["path"]
                for pattern, app in routes:
                    found = pattern.fullmatch(path)
                    if found:
                        scope["path_params"] = found.groupdict()
                        await _raw_route(app, scope, receive, send)
                        return
        if scope["type"] == "http" and self._prefixes:
            path = scope["path"]
            for prefix, app in self._prefixes:
                if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                    await _raw_route(app, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _health(self, request: Request) -> Response:
        if not self.healthy:
            return error_response(errors.Unavailable("Service is starting or stopping"), request_id_of(request))
        problems = health.problems()
        if problems:
            return error_response(errors.Unavailable("Service is not ready: " + "; ".join(problems),
                                                     details={"problems": problems}, headers={"Retry-After": "30"}),
                                  request_id_of(request))
        return json_response({"status": "ok"})

    async def _metrics(self, request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def start(self) -> None:
        config = uvicorn.Config(self, host=self.host, port=self.port, log_level="warning",
                                access_log=False, lifespan="off", server_header=False,
                                timeout_graceful_shutdown=int(self._graceful_timeout_s), http=_Protocol,
                                timeout_keep_alive=int(KEEP_ALIVE_TIMEOUT_S))
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the startup error
                raise OSError(f"could not listen on {self.endpoint}")
            await asyncio.sleep(0.01)
        self.healthy = True

    async def stop(self) -> None:
        """Stop accepting connections and wait for in-flight requests to finish."""
        self.healthy = False
        if self._server and self._task:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the service."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    host, sep, port = endpoint.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"endpoint must be host:port, got {endpoint!r}")
    host = host.strip("[]") or "localhost"
    return host, int(port)
