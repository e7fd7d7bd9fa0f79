"""The streaming pump: upstream bytes to the client as they arrive, with a copy kept.

``Pump`` is the ASGI response of a proxied call. It forwards each upstream chunk at once
(nothing is buffered), watches for the client going away, and stops at the deadline.
When it ends — normally, at the deadline, on a client disconnect or an upstream read
error — it hands the kept bytes to ``on_done(raw, truncated)``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Callable

import httpx

log = logging.getLogger("spanlens_pipeline.receiver.proxy")

# Never passed back to the client: hop-by-hop, and framing the server sets itself.
_DROP = frozenset((b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"te", b"upgrade",
                   b"proxy-connection", b"proxy-authenticate", b"trailer", b"x-request-id"))


def response_headers(upstream: httpx.Response, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """Upstream headers minus hop-by-hop ones; its own request id kept as ``x-upstream-request-id``."""
    out = []
    for name, value in upstream.headers.raw:
        lname = name.lower()
        if lname == b"x-request-id":
            out.append((b"x-upstream-request-id", value))
        elif lname not in _DROP:
            out.append((lname, value))
    out.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())
    return out


class Pump:
    def __init__(self, upstream: httpx.Response, headers: list[tuple[bytes, bytes]], deadline: float,
                 on_done: Callable[[bytes, bool], None]) -> None:
        self.upstream = upstream
        self.headers = headers
        self.deadline = deadline  # loop time
        self.on_done = on_done

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        chunks: list[bytes] = []
        truncated = client_gone = False
        keep = chunks.append

        async def forward() -> None:
            async for chunk in self.upstream.aiter_raw():
                keep(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

        async def disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        loop = asyncio.get_running_loop()
        fwd = watch = None
        try:
            await send({"type": "http.response.start", "status": self.upstream.status_code,
                        "headers": self.headers})
            fwd, watch = asyncio.ensure_future(forward()), asyncio.ensure_future(disconnect())
            done, _ = await asyncio.wait((fwd, watch), timeout=max(0.0, self.deadline - loop.time()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if fwd in done and not fwd.cancelled() and fwd.exception() is None:
                pass
            else:
                truncated = True
                client_gone = watch in done
                if fwd in done and not fwd.cancelled():
                    log.warning("upstream stream failed: %s", fwd.exception())
        finally:
            for task in (fwd, watch):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
            with contextlib.suppress(Exception):
                await self.upstream.aclose()
            if not client_gone:
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            self.on_done(b"".join(chunks), truncated)
