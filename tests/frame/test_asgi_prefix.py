"""Raw ASGI apps served under a prefix, ahead of the framework, with the frame's request id and errors."""
from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson

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


async def _echo_params(scope, receive, send) -> None:
    if scope["path_params"].get("item") == "fail":
        raise errors.BadRequest("bad item")
    body = orjson.dumps({"params": scope["path_params"], "method": scope["method"]})
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def test_a_raw_route_gets_its_path_params_and_the_framework_answers_the_rest():
    async def main() -> None:
        server = HttpServer(f"127.0.0.1:{free_port()}")
        server.add_asgi_route("/things/{thing}/items/{item}", _echo_params, ["POST", "PATCH"])
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as c:
                r = await c.patch("/things/a-1/items/b2")
                assert r.status_code == 200 and r.headers["x-request-id"]
                assert r.json() == {"params": {"thing": "a-1", "item": "b2"}, "method": "PATCH"}
                r = await c.post("/things/a/items/fail")
                assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_REQUEST"
                assert r.json()["error"]["requestId"] == r.headers["x-request-id"]
                r = await c.get("/things/a/items/b")  # another method: the framework's 405
                assert r.status_code == 405 and r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
                for path in ("/things/a/items", "/things/a/b/items/c", "/things/a/items/b/c"):
                    r = await c.post(path)  # not one segment per name: not this route
                    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", path
        finally:
            await server.stop()

    asyncio.run(main())
