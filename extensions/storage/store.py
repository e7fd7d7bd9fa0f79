"""A ClickHouse connection, embedded (chdb) or over HTTP: the storage extension's ``Store``.

Both targets use clickhouse-connect. ``chdb:///abs/path`` or ``chdb://relative/path``
opens the embedded engine in this process (one process may own a data directory at a
time; one engine path per process); ``http(s)://host:port`` talks to a server.
Clients are shared per DSN (and settings) within a process; the configured settings apply
to every statement on both targets.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from spanlens_pipeline.errors import StoreError, StoreUnavailable

log = logging.getLogger("spanlens_pipeline.extension.storage")

# Server error codes after which the same statement may succeed later: overload, timeouts,
# network trouble, a full disk, replication or keeper hiccups. Any other code is permanent.
TRANSIENT_CODES = frozenset({
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY (a replica that is read-only for a while)
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    241,  # MEMORY_LIMIT_EXCEEDED
    242,  # TABLE_IS_READ_ONLY
    243,  # NOT_ENOUGH_SPACE
    252,  # TOO_MANY_PARTS
    285,  # TOO_FEW_LIVE_REPLICAS
    319,  # UNKNOWN_STATUS_OF_INSERT
    394,  # QUERY_WAS_CANCELLED
    425,  # SYSTEM_ERROR (errno from the OS, e.g. ENOSPC)
    999,  # KEEPER_EXCEPTION
})

_clients: dict[tuple, Any] = {}
_lock = threading.Lock()


def is_embedded(dsn: str) -> bool:
    return dsn.startswith("chdb://")


def embedded_path(dsn: str) -> str:
    """The absolute data directory of a ``chdb://`` DSN."""
    rest = dsn[len("chdb://"):]
    return os.path.abspath(rest or ".")


class Store:
    """A ClickHouse connection with the few calls the project needs."""

    def __init__(self, dsn: str, username: str = "default", password: str = "",
                 settings: dict[str, Any] | None = None, connect_timeout_s: float = 10,
                 send_receive_timeout_s: float = 60) -> None:
        self.dsn = dsn
        key = (dsn, username, password, tuple(sorted((settings or {}).items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                try:
                    client = _connect(dsn, username, password, settings or {}, connect_timeout_s,
                                      send_receive_timeout_s)
                except (ClickHouseError, OSError) as exc:
                    raise StoreError(f"cannot connect to {dsn}: {str(exc).strip().splitlines()[0][:300]}",
                                     transient=True) from exc
                _clients[key] = client
        self.client = client

    def command(self, sql: str, parameters: dict[str, Any] | None = None,
                settings: dict[str, Any] | None = None) -> Any:
        try:
            return self.client.command(sql, parameters=parameters, settings=settings)
        except (ClickHouseError, OSError) as exc:
            raise _store_error(exc) from exc

    def query(self, sql: str, parameters: dict[str, Any] | None = None,
              settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts."""
        try:
            result = self.client.query(sql, parameters=parameters, settings=settings)
        except (ClickHouseError, OSError) as exc:
            raise _store_error(exc) from exc
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def insert_json(self, table: str, columns: Iterable[str], body: bytes,
                    fmt: str = "JSONCompactEachRow", settings: dict[str, Any] | None = None) -> None:
        """Insert pre-encoded rows (one JSON value per line) in one statement."""
        try:
            self.client.raw_insert(table, list(columns), insert_block=body, fmt=fmt, settings=settings)
        except (ClickHouseError, OSError) as exc:
            raise _store_error(exc) from exc


def is_transient(exc: BaseException) -> bool:
    """Whether a driver error is worth retrying: a transport failure (no server code), or
    one of ``TRANSIENT_CODES``. Decided from the exception's class and code, never its text."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code in TRANSIENT_CODES
    return isinstance(exc, (OperationalError, OSError))


DISK_FULL_CODES = frozenset({243})  # NOT_ENOUGH_SPACE


def is_disk_full(exc: BaseException) -> bool:
    """Whether a driver error says the store's disk is full (by code or errno, never by text)."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code in DISK_FULL_CODES
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def _store_error(exc: Exception) -> StoreError:
    text = str(exc)
    code = getattr(exc, "code", None)
    return StoreError(text.strip().splitlines()[0][:500] if text else type(exc).__name__, is_transient(exc),
                      code if isinstance(code, int) else None, is_disk_full(exc))


def _connect(dsn: str, username: str, password: str, settings: dict[str, Any],
             connect_timeout_s: float, send_receive_timeout_s: float) -> Any:
    if is_embedded(dsn):
        path = embedded_path(dsn)
        os.makedirs(path, exist_ok=True)
        try:
            return clickhouse_connect.get_client(interface="chdb", path=path, settings=settings)
        except Exception as exc:
            msg = str(exc)
            if "lock" in msg.lower() or "EmbeddedServer" in msg or "initializ" in msg:
                raise StoreUnavailable(
                    f"the embedded store at {path} is in use by another process "
                    "(a running service owns it); stop that process or query through it") from None
            raise
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"store endpoint must start with chdb://, http:// or https://, got {dsn!r}")
    return clickhouse_connect.get_client(
        host=parts.hostname or "localhost", port=parts.port or (8443 if parts.scheme == "https" else 8123),
        interface=parts.scheme, username=parts.username or username, password=parts.password or password,
        settings=settings, connect_timeout=connect_timeout_s, send_receive_timeout=send_receive_timeout_s,
        autogenerate_session_id=False)
