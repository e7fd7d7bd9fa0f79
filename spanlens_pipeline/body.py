"""Reading a request body within a size limit, decompressing it safely.

The limit applies to the decompressed size, and decompression stops as soon as it is
passed, so a small compressed "bomb" never inflates in memory.
"""
from __future__ import annotations

import zlib

from starlette.requests import Request

from spanlens_pipeline.errors import MalformedPayload, PayloadTooLarge, UnsupportedMediaType


async def read_body(request: Request, limit: int) -> bytes:
    """The decompressed body; 413 past ``limit`` bytes, 400 for a corrupt encoding."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaType(f"Unsupported Content-Encoding {encoding!r}; use gzip, deflate or none")
    raw = await read_raw(request, limit)
    if encoding in ("", "identity") or not raw:
        return raw
    return inflate(raw, limit, gzip=encoding != "deflate")


async def read_raw(request: Request, limit: int) -> bytes:
    """The body as sent (no decompression); 413 past ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def inflate(raw: bytes, limit: int, gzip: bool) -> bytes:
    """Decompress gzip (all members) or deflate (zlib-wrapped or raw), refusing past ``limit``."""
    wbits_options = (31,) if gzip else (15, -15)
    last_error: Exception | None = None
    for wbits in wbits_options:
        try:
            return _inflate(raw, limit, wbits)
        except zlib.error as exc:
            last_error = exc
    raise MalformedPayload(f"Request body is not valid {'gzip' if gzip else 'deflate'} data ({last_error})")


def _inflate(raw: bytes, limit: int, wbits: int) -> bytes:
    out, total, data = [], 0, raw
    while data:
        d = zlib.decompressobj(wbits)
        while data:
            piece = d.decompress(data, limit + 1 - total)
            total += len(piece)
            out.append(piece)
            if total > limit:
                raise PayloadTooLarge(f"Decompressed request body is larger than the limit of {limit} bytes")
            data = d.unconsumed_tail
            if d.eof:
                break
            if not data and not piece:
                break
        if not d.eof:
            raise MalformedPayload("Compressed request body is truncated")
        data = d.unused_data
        if wbits != 31:
            break  # only gzip has several members
    return b"".join(out)
