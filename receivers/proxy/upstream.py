"""A lean upstream client: pooled keep-alive HTTP/1.1 over asyncio, parsed by httptools.

Built for the proxy's one job — send a request, stream the answer back — with no work
beyond that: one connection per in-flight call, idle connections kept per origin, TLS
through ``asyncio`` and the default certificate store (SNI and hostname checks on), the
body handed over chunk by chunk as it is parsed, reading paused when a slow client lets
more than ``_HIGH_WATER`` bytes pile up. A call on a reused connection that the server
had already closed is retried once on a fresh one.
"""
from __future__ import annotations

import asyncio
import collections
import ssl
from urllib.parse import quote, urlencode, urlsplit

import httptools

_HIGH_WATER = 1 << 20
_MAX_IDLE = 64  # idle connections kept per origin
_SAFE_PATH = "/:@!$&'()*+,;=~-._%"


class UpstreamError(Exception):
    """The upstream could not be reached or broke the exchange."""


class Response:
    """An answer whose headers are in; the body is read with ``read_chunk``."""

    def __init__(self, conn: _Conn) -> None:
        self._conn = conn
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.headers: dict[str, str] = {}
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._waiter: asyncio.Future | None = None
        self.complete = False  # every body byte has been received
        self.error: BaseException | None = None

    @property
    def at_eof(self) -> bool:
        return self.complete and not self._chunks

    async def read_chunk(self) -> bytes:
        """The next body bytes; ``b""`` at the end; ``UpstreamError`` if the exchange broke."""
        while not self._chunks:
            if self.error is not None:
                raise UpstreamError(str(self.error) or type(self.error).__name__)
            if self.complete:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._buffered < _HIGH_WATER:
            self._conn.resume()
        return chunk

    def close(self) -> None:
        """Give the connection back if the answer was read to its end, else drop it."""
        self._conn.finish(reuse=self.at_eof)

    # -- fed by the connection --------------------------------------------------------
    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= _HIGH_WATER:
            self._conn.pause()
        self._wake()


class _Conn(asyncio.Protocol):
    def __init__(self, pool: Upstream, origin: tuple) -> None:
        self.pool, self.origin = pool, origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.headers_ready: asyncio.Future | None = None
        self.closed = False
        self.keep_alive = True
        self.no_body = False
        self.received = False
        self.paused = False

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.response is None:  # nothing asked: a stray byte ends the connection
            self.drop()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamError("upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"malformed upstream response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        r = self.response
        if r is not None and not r.complete:
            h = r.headers
            if self.headers_ready is not None and self.headers_ready.done() and \
                    "content-length" not in h and "transfer-encoding" not in h:
                r.complete = True  # a body delimited by the end of the connection
                r._wake()
            else:
                self._fail(exc or ConnectionResetError("upstream closed the connection"))

    # -- httptools callbacks ----------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.response is not None
        self.response.raw_headers.append((name, value))
        self.response.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        r = self.response
        assert r is not None
        r.status = self.parser.get_status_code()
        if 100 <= r.status < 200:  # an interim answer: wait for the real one
            r.raw_headers, r.headers = [], {}
            return
        self.keep_alive = self.parser.should_keep_alive()
        if self.no_body or r.status in (204, 304):
            self.keep_alive = False  # the parser cannot know there is no body: never reuse
            r.complete = True
        if self.headers_ready is not None and not self.headers_ready.done():
            self.headers_ready.set_result(r)

    def on_body(self, body: bytes) -> None:
        if self.response is not None and not self.response.complete:
            self.response._feed(body)

    def on_message_complete(self) -> None:
        r = self.response
        if r is not None and 100 <= r.status < 200:
            return
        if r is not None:
            r.complete = True
            r._wake()

    # -- use --------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        if self.headers_ready is not None and not self.headers_ready.done():
            self.headers_ready.set_exception(exc)
        r = self.response
        if r is not None and not r.complete:
            r.error = exc
            r._wake()
        self.drop()

    def pause(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def drop(self) -> None:
        self.closed = True
        self.pool._all.discard(self)
        if self.transport is not None:
            self.transport.close()

    def finish(self, reuse: bool) -> None:
        self.response, self.headers_ready = None, None
        if reuse and self.keep_alive and not self.closed:
            self.resume()
            self.pool._release(self)
        else:
            self.drop()


class Upstream:
    """The pool: idle keep-alive connections per (scheme, host, port)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._idle: dict[tuple, list[_Conn]] = {}
        self._ssl = ssl_context or ssl.create_default_context()
        self._all: set[_Conn] = set()

    async def request(self, method: str, url: str, params: list[tuple[str, str]] | None,
                      headers: dict[str, str], body: bytes) -> Response:
        """Send one request; returns once the answer's headers are in."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"not an http(s) URL: {url!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        origin = (tls, parts.hostname, port)
        target = quote(parts.path or "/", safe=_SAFE_PATH)
        query = "&".join(q for q in (parts.query, urlencode(params) if params else "") if q)
        if query:
            target += "?" + query
        default_port = port == (443 if tls else 80)
        host = parts.hostname if default_port else f"{parts.hostname}:{port}"
        if ":" in parts.hostname:
            host = f"[{parts.hostname}]" + ("" if default_port else f":{port}")
        lines = [f"{method} {target} HTTP/1.1", f"host: {host}"]
        for k, v in headers.items():
            if "\n" in v or "\r" in v:
                raise UpstreamError(f"header {k!r} holds a line break")
            lines.append(f"{k}: {v}")
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"content-length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for attempt in (0, 1):
            conn, reused = await self._connection(origin)
            try:
                return await self._exchange(conn, method, head, body)
            except (UpstreamError, OSError) as exc:
                conn.drop()
                if attempt or not reused or conn.received:
                    raise UpstreamError(f"{type(exc).__name__}: {exc}") from None
            except BaseException:
                conn.drop()
                raise
        raise AssertionError("unreachable")

    async def _exchange(self, conn: _Conn, method: str, head: bytes, body: bytes) -> Response:
        loop = asyncio.get_running_loop()
        conn.response = Response(conn)
        conn.headers_ready = loop.create_future()
        conn.no_body = method == "HEAD"
        conn.received = False
        conn.parser = httptools.HttpResponseParser(conn)
        assert conn.transport is not None
        conn.transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            conn.transport.write(body)
        return await conn.headers_ready

    async def _connection(self, origin: tuple) -> tuple[_Conn, bool]:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn, True
            conn.drop()
        tls, host, port = origin
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Conn(self, origin), host, port,
                                                   ssl=self._ssl if tls else None,
                                                   server_hostname=host if tls else None)
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamError(f"cannot connect to {host}:{port}: {exc}") from None
        self._all.add(conn)
        return conn, False

    def _release(self, conn: _Conn) -> None:
        idle = self._idle.setdefault(conn.origin, [])
        if len(idle) >= _MAX_IDLE:
            conn.drop()
        else:
            idle.append(conn)

    async def close(self) -> None:
        for conn in list(self._all):
            conn.drop()
        self._all.clear()
        self._idle.clear()
