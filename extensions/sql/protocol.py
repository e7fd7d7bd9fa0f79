"""The ClickHouse HTTP interface: ``/`` (query in ``?query=`` and/or the body), ``/ping``.

Answers as a ClickHouse server does: the result in the requested format (``FORMAT`` clause,
else ``default_format``, else TabSeparated), the ``X-ClickHouse-*`` headers, compression
when ``enable_http_compression=1`` and ``Accept-Encoding`` allow it, and errors as
``Code: N. DB::Exception: … (NAME)`` with ``X-ClickHouse-Exception-Code``.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import hmac
import re
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

from spanlens_pipeline.body import read_body
from spanlens_pipeline.errors import SpanlensError

from . import guard
from .engine import Engine, Result
from .exceptions import ClickHouseException

DISPLAY_NAME = "spanlens"
# URL parameters that steer the protocol rather than set a query setting.
PROTOCOL_PARAMS = frozenset({
    "query", "database", "default_format", "user", "password", "query_id", "session_id", "session_timeout",
    "session_check", "compress", "decompress", "enable_http_compression", "http_zlib_compression_level",
    "wait_end_of_query", "send_progress_in_http_headers", "http_headers_progress_interval_ms", "buffer_size",
    "quota_key", "client_protocol_version", "role", "cancel_http_readonly_queries_on_client_close",
    "http_response_buffer_size", "add_http_cors_header", "max_result_bytes_in_http_headers",
})


def _available_encodings() -> tuple[str, ...]:
    out = []
    try:
        _zstd()
        out.append("zstd")
    except ImportError:
        pass
    try:
        import lz4.frame  # noqa: F401
        out.append("lz4")
    except ImportError:
        pass
    return (*out, "gzip", "deflate")


def _zstd():
    try:
        from compression import zstd
    except ImportError:
        from backports import zstd
    return zstd


_FORMAT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_QUERY_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_CONTENT_TYPES = {"TabSeparated": "text/tab-separated-values; charset=UTF-8",
                  "TSV": "text/tab-separated-values; charset=UTF-8",
                  "CSV": "text/csv; charset=UTF-8", "CSVWithNames": "text/csv; charset=UTF-8"}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


class Protocol:
    """The request handler of the sql extension's endpoint."""

    def __init__(self, engine: Engine, credentials: Credentials, default_database: str, bounds: dict[str, int],
                 max_query_size: int, max_concurrent: int) -> None:
        self.engine = engine
        self.credentials = credentials
        self.default_database = default_database
        self.bounds = bounds
        self.max_query_size = max_query_size
        self.timezone = "UTC"
        self._slots = asyncio.Semaphore(max_concurrent)
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="sql-query")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def ping(self, request: Request) -> Response:
        return Response(b"Ok.\n", media_type="text/plain; charset=UTF-8")

    async def handle(self, request: Request) -> Response:
        query_id = request.query_params.get("query_id", "")
        if not _QUERY_ID.match(query_id):
            query_id = str(uuid.uuid4())
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Timezone": self.timezone,
                   "X-ClickHouse-Server-Display-Name": DISPLAY_NAME}
        try:
            return await self._answer(request, headers)
        except ClickHouseException as exc:
            return self._error(exc, headers)
        except SpanlensError as exc:  # the body reader's 413/415/400
            return self._error(ClickHouseException(1000, exc.message, status=exc.status), headers)

    def _error(self, exc: ClickHouseException, headers: dict[str, str]) -> Response:
        headers = {**headers, "X-ClickHouse-Exception-Code": str(exc.code)}
        if exc.code == 516:
            headers["WWW-Authenticate"] = 'Basic realm="ClickHouse", charset="UTF-8"'
        return Response(exc.text().encode(), status_code=exc.status, headers=headers,
                        media_type="text/plain; charset=UTF-8")

    async def _answer(self, request: Request, headers: dict[str, str]) -> Response:
        params = request.query_params
        self._authenticate(request)
        raw = await read_body(request, self.max_query_size) if request.method == "POST" else b""
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ClickHouseException(36, "The query is not valid UTF-8") from None
        text = "\n".join(part for part in (params.get("query"), body) if part)
        if not text.strip():
            if request.method in ("GET", "HEAD"):
                return Response(b"Ok.\n", media_type="text/plain; charset=UTF-8", headers=headers)
            raise ClickHouseException(62, "Empty query")
        if len(text.encode()) > self.max_query_size:
            raise ClickHouseException(62, f"Max query size exceeded ({self.max_query_size} bytes)")
        if params.get("compress") in ("1", "true") or params.get("decompress") in ("1", "true"):
            raise ClickHouseException(48, "compress=1/decompress=1 (ClickHouse block compression) is not "
                                          "supported; use enable_http_compression=1 with Accept-Encoding")
        stmt = guard.check(text, self.bounds)
        settings: dict[str, str] = {}
        for name, value in params.multi_items():
            if name in PROTOCOL_PARAMS or name.startswith("param_"):
                continue
            checked = guard.setting(name, value, self.bounds)
            if checked is not None:
                settings[name] = checked
        settings.update(stmt.settings)
        fmt = stmt.fmt or params.get("default_format") or "TabSeparated"
        if not _FORMAT_NAME.match(fmt):
            raise ClickHouseException(73, f"Unknown format {fmt[:40]!r}")
        database = params.get("database") or self.default_database
        bind = {k[6:]: v for k, v in params.multi_items() if k.startswith("param_")}
        encoding = None
        if params.get("enable_http_compression") in ("1", "true"):
            encoding = _pick_encoding(request.headers.get("accept-encoding", ""))

        def work() -> tuple[Result, bytes]:  # on a worker thread: the query, then the compression
            res = self.engine.run(stmt.sql, fmt, database, settings, bind)
            return res, _compress(res.body, encoding) if encoding else res.body

        if self._slots.locked():
            raise ClickHouseException(202, "Too many simultaneous queries on the sql endpoint; retry later")
        async with self._slots:
            result, payload = await asyncio.get_running_loop().run_in_executor(self._pool, work)
        headers["X-ClickHouse-Format"] = fmt
        headers["X-ClickHouse-Summary"] = orjson.dumps({
            "read_rows": str(result.rows_read), "read_bytes": str(result.bytes_read), "written_rows": "0",
            "written_bytes": "0", "total_rows_to_read": str(result.rows_read),
            "result_bytes": str(len(result.body)), "elapsed_ns": str(int(result.elapsed_s * 1e9))}).decode()
        if encoding:
            headers["Content-Encoding"] = encoding
        media = _CONTENT_TYPES.get(fmt) or ("application/json; charset=UTF-8" if fmt.startswith("JSON")
                                            else "text/plain; charset=UTF-8")
        return Response(payload, headers=headers, media_type=media)

    def _authenticate(self, request: Request) -> None:
        h, q = request.headers, request.query_params
        user = password = None
        if "x-clickhouse-user" in h or "x-clickhouse-key" in h:
            user, password = h.get("x-clickhouse-user", "default"), h.get("x-clickhouse-key", "")
        elif h.get("authorization", "").lower().startswith("basic "):
            try:
                decoded = base64.b64decode(h["authorization"][6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise ClickHouseException(516, "Malformed Authorization header") from None
            user, _, password = decoded.partition(":")
        elif "user" in q or "password" in q:
            user, password = q.get("user", "default"), q.get("password", "")
        user, password = user or "default", password or ""
        ok_user = hmac.compare_digest(user.encode(), self.credentials.username.encode())
        ok_password = hmac.compare_digest(password.encode(), self.credentials.password.encode())
        if not (ok_user and ok_password):
            raise ClickHouseException(516, f"{user[:64]}: Authentication failed: password is incorrect, or "
                                           "there is no user with such name")


def _pick_encoding(accept: str) -> str | None:
    offered = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    for enc in offered:
        if enc in _ENCODINGS:
            return enc
    return None


def _compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=3)
    if encoding == "deflate":
        return zlib.compress(body, 3)
    if encoding == "zstd":
        return _zstd().compress(body)
    import lz4.frame
    return lz4.frame.compress(body)


_ENCODINGS = _available_encodings()
