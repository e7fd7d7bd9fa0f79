"""Reading a request body within a size limit, decompressing it safely.

The limit applies to the decompressed size, and decompression stops as soon as it is
passed, so a small compressed "bomb" never inflates in memory. Decompression is linear in
the input (gzip members are walked by offset, never by copying the rest of the body), the
number of gzip members is bounded, and a large body is decompressed in a worker thread so
the event loop keeps serving other clients.

Reading is bounded in time too: a client that stops sending gets 408 after
``BODY_CHUNK_TIMEOUT_S`` without a byte or ``BODY_TIMEOUT_S`` in all; one that hangs up
mid-body ends the request quietly (``ClientGone``).
"""
from __future__ import annotations

import asyncio
import time
import zlib

import zstandard
from starlette.requests import ClientDisconnect, Request

from spanlens_pipeline.errors import (
    ClientGone,
    MalformedPayload,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
)

ENCODINGS = ("identity", "gzip", "x-gzip", "deflate", "zstd")
MAX_GZIP_MEMBERS = 1024
THREAD_THRESHOLD = 256 * 1024  # bodies at least this large are decompressed off the event loop
BODY_CHUNK_TIMEOUT_S = 30.0
BODY_TIMEOUT_S = 120.0
_SLICE = 16 * 1024
_ZSTD_SLICE = 512


async def read_body(request: Request, limit: int) -> bytes:
    """The decompressed body; 413 past ``limit`` bytes, 400 for a corrupt encoding."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in ENCODINGS:
        raise UnsupportedMediaType(f"Unsupported Content-Encoding {encoding!r}; use gzip, deflate, zstd or none")
    raw = await read_raw(request, limit)
    if encoding == "identity" or not raw:
        return raw
    if len(raw) >= THREAD_THRESHOLD:
        return await asyncio.to_thread(decompress, raw, encoding, limit)
    return decompress(raw, encoding, limit)


async def read_raw(request: Request, limit: int, *, chunk_timeout_s: float | None = None,
                   total_timeout_s: float | None = None) -> bytes:
    """The body as sent (no decompression); 413 past ``limit`` bytes, 408 when too slow."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
    chunk_timeout = BODY_CHUNK_TIMEOUT_S if chunk_timeout_s is None else chunk_timeout_s
    deadline = time.monotonic() + (BODY_TIMEOUT_S if total_timeout_s is None else total_timeout_s)
    chunks, size = [], 0
    stream = request.stream().__aiter__()
    while True:
        wait = min(chunk_timeout, deadline - time.monotonic())
        try:
            if wait <= 0:
                raise TimeoutError
            chunk = await asyncio.wait_for(stream.__anext__(), wait)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise RequestTimeout("The request body did not arrive in time") from None
        except ClientDisconnect:
            raise ClientGone() from None
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decompress(raw: bytes, encoding: str, limit: int) -> bytes:
    """Decompress one of ``ENCODINGS`` (not identity), refusing past ``limit`` bytes."""
    if encoding == "zstd":
        return unzstd(raw, limit)
    return inflate(raw, limit, gzip=encoding != "deflate")


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


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Decompressed request body is larger than the limit of {limit} bytes")


def _inflate(raw: bytes, limit: int, wbits: int) -> bytes:
    """One pass over ``raw``: input goes in slices of ``_SLICE`` bytes, so what zlib copies
    (``unused_data``, ``unconsumed_tail``) stays small and the work stays linear."""
    view = memoryview(raw)
    out: list[bytes] = []
    total, pos, members = 0, 0, 0
    while pos < len(view):
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise MalformedPayload(f"Compressed request body has more than {MAX_GZIP_MEMBERS} gzip members")
        d = zlib.decompressobj(wbits)
        while not d.eof:
            if pos >= len(view):
                raise MalformedPayload("Compressed request body is truncated")
            piece_in = view[pos:pos + _SLICE]
            piece = d.decompress(piece_in, limit + 1 - total)
            total += len(piece)
            if total > limit:
                raise _too_large(limit)
            out.append(piece)
            left = len(d.unused_data) if d.eof else len(d.unconsumed_tail)
            pos += len(piece_in) - left
        if wbits != 31:
            break  # only gzip has several members; trailing bytes after a zlib stream are ignored
    return b"".join(out)


def unzstd(raw: bytes, limit: int) -> bytes:
    """Decompress zstd (all frames), refusing past ``limit`` bytes. Input goes in small
    slices because the binding has no output bound per call: one slice can only grow so much."""
    view = memoryview(raw)
    out: list[bytes] = []
    total, pos, frames = 0, 0, 0
    dctx = zstandard.ZstdDecompressor()
    try:
        while pos < len(view):
            frames += 1
            if frames > MAX_GZIP_MEMBERS:
                raise MalformedPayload(f"Compressed request body has more than {MAX_GZIP_MEMBERS} zstd frames")
            d = dctx.decompressobj()
            while not d.eof:
                if pos >= len(view):
                    raise MalformedPayload("Compressed request body is truncated")
                piece_in = view[pos:pos + _ZSTD_SLICE]
                piece = d.decompress(piece_in)
                total += len(piece)
                if total > limit:
                    raise _too_large(limit)
                out.append(piece)
                pos += len(piece_in) - (len(d.unused_data) if d.eof else 0)
    except zstandard.ZstdError as exc:
        raise MalformedPayload(f"Request body is not valid zstd data ({exc})") from None
    return b"".join(out)
