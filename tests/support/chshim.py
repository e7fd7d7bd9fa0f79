"""A ClickHouse HTTP front over the embedded engine, for testing the server path.

No ClickHouse server binary can be installed where the tests run, so this small ASGI app
answers the ClickHouse HTTP protocol with chdb behind it: the unmodified clickhouse-connect
HTTP client (and so the service's ``http://`` store path) talks to it as to a server.

Run: ``python -m tests.support.chshim PORT DATA_DIR``.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import re
import sys
import uuid

import uvicorn
from chdb import session as chdb_session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

# HTTP parameters that are protocol options, not query settings.
_PROTOCOL_PARAMS = {
    "database", "query", "query_id", "session_id", "session_timeout", "session_check", "compress",
    "decompress", "user", "password", "default_format", "enable_http_compression", "wait_end_of_query",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "buffer_size", "quota_key",
    "client_protocol_version", "role",
}
_FORMAT_AT_END = re.compile(r"\bFORMAT\s+(\w+)\s*$", re.I)
_INSERT_HEAD = re.compile(rb"\s*(INSERT\b.*?\bFORMAT\s+\w+)[ \t]*\r?\n?", re.I | re.S)


def _decompress(body: bytes, encoding: str | None) -> bytes:
    if not body or not encoding:
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "lz4":
        import lz4.frame
        return lz4.frame.decompress(body)
    if encoding == "zstd":
        from backports import zstd
        return zstd.decompress(body)
    raise ValueError(f"unsupported encoding {encoding}")


def make_app(data_dir: str) -> Starlette:
    sess = chdb_session.Session(data_dir)
    lock = asyncio.Lock()  # one statement at a time: an insert stream and a query cannot share the session

    async def handle(request: Request) -> Response:
        if request.url.path == "/ping":
            return PlainTextResponse("Ok.\n")
        params = dict(request.query_params)
        body = _decompress(await request.body(), request.headers.get("content-encoding"))
        sql, data = params.get("query"), None
        if sql is None:
            head = _INSERT_HEAD.match(body)
            if head and head.end() < len(body):
                sql, data = head.group(1).decode(), body[head.end():]
            else:
                sql = body.decode()
        elif body:
            data = body
        settings = {k: v for k, v in params.items() if k not in _PROTOCOL_PARAMS and not k.startswith("param_")}
        headers = {"X-ClickHouse-Query-Id": params.get("query_id") or str(uuid.uuid4()),
                   "X-ClickHouse-Timezone": "UTC",
                   "X-ClickHouse-Summary": json.dumps({"read_rows": "0", "written_rows": "0"})}
        text = sql.strip()
        fmt_match = _FORMAT_AT_END.search(text)
        try:
            if data is not None:
                fmt = fmt_match.group(1) if fmt_match else "TabSeparated"
                statement = _FORMAT_AT_END.sub("", text)

                def insert():
                    with sess.send_insert(statement, fmt) as ins:
                        ins.append(data)
                        return ins.finish()

                async with lock:
                    result = await run_in_threadpool(insert)
                headers["X-ClickHouse-Summary"] = json.dumps({"written_rows": str(result.rows_written)})
                return Response(b"", headers=headers)
            fmt = fmt_match.group(1) if fmt_match else params.get("default_format", "TabSeparated")
            statement = _FORMAT_AT_END.sub("", text) if fmt_match else text
            if settings and statement.lstrip().upper().startswith(("SELECT", "WITH")):
                statement += " SETTINGS " + ", ".join(
                    f"{k}={v}" if v.isdigit() else f"{k}='{v}'" for k, v in settings.items())
            async with lock:
                result = await run_in_threadpool(sess.query, statement, fmt)
            headers["X-ClickHouse-Format"] = fmt
            return Response(result.bytes(), headers=headers)
        except Exception as exc:  # the protocol reports errors as text with a code header
            code = re.search(r"Code: (\d+)", str(exc))
            headers["X-ClickHouse-Exception-Code"] = code.group(1) if code else "1000"
            return PlainTextResponse(str(exc), status_code=500, headers=headers)

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])


if __name__ == "__main__":
    port, data_dir = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(make_app(data_dir), host="127.0.0.1", port=port, log_level="warning")
