"""Raw ASGI apps served under a prefix, ahead of the framework, with the frame's request id and errors."""
from __future__ import annotations

import asyncio
import uuid

import httpx

from spanlens_pipeline import errors
from spanlens_pipeline.http import REQUEST_ID, HttpServer

from ..support.running import free_port


async def _raw(scope, receive, send) -> None:
    if scope["path"].endswith("/fail"):
        raise errors.NoProviderKey("no key here", details={"provider": "x"})
    if scope["path"].endswith("/crash"):
        raise RuntimeError("boom")
    body = scope[REQUEST_ID].encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _serve(check) -> None:
    async def main() -> None:
        server = HttpServer(f"127.0.0.1:{free_port()}")
        server.add_asgi_prefix("/raw", _raw)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as c:
                await check(c)
        finally:
            await server.stop()

    asyncio.run(main())


def test_prefix_is_served_raw_with_a_request_id():
    async def check(c: httpx.AsyncClient) -> None:
        r = await c.get("/raw/anything")
        assert r.status_code == 200 and r.text == r.headers["x-request-id"]
        mine = str(uuid.uuid4())
        r = await c.get("/raw", headers={"x-request-id": mine})
        assert r.status_code == 200 and r.text == mine and r.headers["x-request-id"] == mine

    _serve(check)


def test_errors_in_a_raw_app_become_the_envelope():
    async def check(c: httpx.AsyncClient) -> None:
        r = await c.get("/raw/fail")
        body = r.json()["error"]
        assert r.status_code == 400 and body["code"] == "NO_PROVIDER_KEY" and body["details"] == {"provider": "x"}
        assert body["requestId"] == r.headers["x-request-id"]
        r = await c.get("/raw/crash")
        assert r.status_code == 500 and r.json()["error"]["code"] == "INTERNAL_ERROR"

    _serve(check)


def test_other_paths_still_go_to_the_framework():
    async def check(c: httpx.AsyncClient) -> None:
        r = await c.get("/rawer")  # shares the letters, not the prefix
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
        assert r.headers["x-request-id"]
        assert (await c.get("/health")).status_code == 200

    _serve(check)
