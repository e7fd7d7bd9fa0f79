"""The HTTP/1.1 connection itself, over raw sockets: pipelining, a declined upgrade, HTTP/1.0
framing, and the limits on request heads (see also tests/adversarial for the service's)."""
from __future__ import annotations

import asyncio
import re

import orjson

from spanlens_pipeline import http as http_mod
from spanlens_pipeline.http import HttpServer

from ..support.running import free_port


async def _echo(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    out = b"%s %s %s" % (scope["method"].encode(), scope["path"].encode(), body)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(out))]})
    await send({"type": "http.response.body", "body": out})


async def _stream(scope, receive, send) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b"data: 2\n\n"})


def _exchange(*parts: bytes | float) -> bytes:
    """Everything the server sends on one connection fed ``parts`` (a float: wait that long)."""
    async def main() -> bytes:
        server = HttpServer(f"127.0.0.1:{free_port()}")
        server.add_asgi_prefix("/e", _echo)
        server.add_asgi_prefix("/s", _stream)
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            for part in parts:
                if isinstance(part, float):
                    await asyncio.sleep(part)
                else:
                    writer.write(part)
                    await writer.drain()
            data = await asyncio.wait_for(reader.read(), 10)  # to EOF: each case ends with a closed connection
            writer.close()
            return data
        finally:
            await server.stop()

    return asyncio.run(main())


def _statuses(data: bytes) -> list[bytes]:
    return re.findall(rb"HTTP/1\.1 (\d{3}) ", data)


def _envelope_code(data: bytes) -> str:
    return orjson.loads(data[data.rindex(b"\r\n\r\n") + 4:])["error"]["code"]


def test_pipelined_requests_are_answered_in_order_before_a_broken_one():
    data = _exchange(b"GET /e/1 HTTP/1.1\r\nhost: x\r\n\r\n"
                     b"POST /e/2 HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc"
                     b"NOT A REQUEST\r\n\r\n")
    assert _statuses(data) == [b"200", b"200", b"400"]
    assert data.index(b"GET /e/1 ") < data.index(b"POST /e/2 abc")
    assert _envelope_code(data) == "BAD_REQUEST"


def test_a_declined_upgrade_keeps_its_body_and_the_connection():
    data = _exchange(b"POST /e/up HTTP/1.1\r\nhost: x\r\nconnection: upgrade, http2-settings\r\nupgrade: h2c\r\n"
                     b"http2-settings: AAMAAABkAAQCAAAAAAIAAAAA\r\ncontent-length: 5\r\n\r\nhello"
                     b"GET /e/next HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    assert _statuses(data) == [b"200", b"200"]
    assert b"POST /e/up hello" in data and b"GET /e/next " in data


def test_http_1_0_gets_a_stream_without_chunked_coding():
    data = _exchange(b"GET /s HTTP/1.0\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"data: 1\n\ndata: 2\n\n"


def test_a_complete_head_over_the_limit_is_431():
    data = _exchange(b"GET /e HTTP/1.1\r\nhost: x\r\n" + b"x-a: b\r\n" * 10_000 + b"\r\n")
    assert _statuses(data) == [b"431"]
    assert _envelope_code(data) == "HEADERS_TOO_LARGE"


def test_http_1_1_without_a_host_is_400():
    data = _exchange(b"GET /e HTTP/1.1\r\n\r\n")
    assert _statuses(data) == [b"400"]
    assert _envelope_code(data) == "BAD_REQUEST"


def test_the_header_deadline_restarts_after_each_response(monkeypatch):
    monkeypatch.setattr(http_mod, "HEADER_TIMEOUT_S", 0.5)
    data = _exchange(b"GET /e/1 HTTP/1.1\r\nhost: x\r\n\r\n", 0.2, b"GET /e/2 HTTP/1.1\r\n")
    assert _statuses(data) == [b"200", b"408"]
    assert _envelope_code(data) == "REQUEST_TIMEOUT"
