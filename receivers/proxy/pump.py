"""The streaming pump: upstream bytes to the client as they arrive, with a copy kept.

``pump`` runs inside the request's own task: it forwards each upstream chunk at once
(nothing is buffered) and stops at the deadline (a loop timer). Once an answer turns
out to be longer than one chunk, a small watcher waits for the client to go away and
ends the pump early. It returns the kept bytes and whether the answer was cut short.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .upstream import Response, UpstreamError

log = logging.getLogger("spanlens_pipeline.receiver.proxy")

# Never passed back to the client: hop-by-hop, and framing the server sets itself.
_DROP = frozenset((b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"te", b"upgrade",
                   b"proxy-connection", b"proxy-authenticate", b"trailer", b"x-request-id"))


def response_headers(upstream: Response, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """Upstream headers minus hop-by-hop ones; its own request id kept as ``x-upstream-request-id``."""
    out = []
    for name, value in upstream.raw_headers:
        lname = name.lower()
        if lname == b"x-request-id":
            out.append((b"x-upstream-request-id", value))
        elif lname not in _DROP:
            out.append((lname, value))
    out.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())
    return out


async def pump(upstream: Response, headers: list[tuple[bytes, bytes]], deadline: float,
               receive: Callable, send: Callable) -> tuple[bytes, bool]:
    """Forward the answer until its end, the deadline (loop time) or the client leaving."""
    chunks: list[bytes] = []
    keep = chunks.append
    truncated = client_gone = finished = False
    watcher: asyncio.Task | None = None
    try:
        async with asyncio.timeout_at(deadline) as limit:
            async def watch() -> None:
                nonlocal client_gone
                while (await receive())["type"] != "http.disconnect":
                    pass
                if not finished:
                    client_gone = True
                    limit.reschedule(asyncio.get_running_loop().time())  # end the pump now

            await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
            while chunk := await upstream.read_chunk():
                keep(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if watcher is None and not upstream.at_eof:
                    watcher = asyncio.ensure_future(watch())
            finished = True
    except TimeoutError:
        truncated = True
    except (UpstreamError, OSError) as exc:
        truncated = True
        log.warning("upstream stream failed: %s: %s", type(exc).__name__, exc)
    finally:
        finished = True
        if watcher is not None:
            watcher.cancel()
        upstream.close()  # back to the pool only if read to its end
    if not client_gone:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    return b"".join(chunks), truncated
