"""The ingest routes' side of raw ASGI: the request's headers and body, and the JSON answer.

The body rules are the frame's (``spanlens_pipeline.body``): the size limit applies after
decompression, an unknown ``Content-Encoding`` is 415, a body slower than
``BODY_CHUNK_TIMEOUT_S`` between chunks or ``BODY_TIMEOUT_S`` in all is 408, and a client
that hangs up mid-body raises ``ClientGone``. Deadlines are one loop timer per request.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from spanlens_pipeline import body as body_mod
from spanlens_pipeline.errors import ClientGone, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from spanlens_pipeline.http import REQUEST_ID

_JSON = (b"content-type", b"application/json")


def headers_of(scope: dict) -> dict[str, str]:
    """Request headers by lower-case name; the first of repeated headers wins (as the framework's)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


async def read_body(receive: Callable, headers: dict[str, str], limit: int) -> bytes:
    """The decompressed body; 413 past ``limit`` bytes, 415/400 for an unknown or corrupt encoding."""
    encoding = headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in body_mod.ENCODINGS:
        raise UnsupportedMediaType(f"Unsupported Content-Encoding {encoding!r}; use gzip, deflate, zstd or none")
    raw = await read_raw(receive, headers, limit)
    if encoding == "identity" or not raw:
        return raw
    if len(raw) >= body_mod.THREAD_THRESHOLD:
        return await asyncio.to_thread(body_mod.decompress, raw, encoding, limit)
    return body_mod.decompress(raw, encoding, limit)


async def read_raw(receive: Callable, headers: dict[str, str], limit: int) -> bytes:
    """The body as sent; 413 past ``limit`` bytes, 408 when too slow, ``ClientGone`` on a hang-up."""
    length = headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + body_mod.BODY_TIMEOUT_S
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(min(deadline, loop.time() + body_mod.BODY_CHUNK_TIMEOUT_S)) as timer:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
                if chunk:
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    break
                timer.reschedule(min(deadline, loop.time() + body_mod.BODY_CHUNK_TIMEOUT_S))
    except TimeoutError:
        raise RequestTimeout("The request body did not arrive in time") from None
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


async def answer(scope: dict, send: Callable, status: int, data: dict[str, Any]) -> None:
    """``{"success": true, "data": …}`` with ``status``, as JSON."""
    payload = orjson.dumps({"success": True, "data": data})
    await send({"type": "http.response.start", "status": status,
                "headers": [_JSON, (b"content-length", b"%d" % len(payload)),
                            (b"x-request-id", scope[REQUEST_ID].encode())]})
    await send({"type": "http.response.body", "body": payload})
