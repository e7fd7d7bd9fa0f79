"""Running a checked statement on the embedded engine, read-only, within the server's bounds.

Each query gets its own chdb connection handle on the one engine of the process (the one
the storage extension opened; chdb serves any number of handles on it). On that handle the
limits and the client's allowed settings are set, then ``readonly=1``, which no later
statement on the handle can undo, then the query runs. The handle is closed afterwards.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import chdb

from .exceptions import EngineException


@dataclass(frozen=True)
class Result:
    body: bytes
    fmt: str
    rows_read: int
    bytes_read: int
    elapsed_s: float


def quote_ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_value(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class Engine:
    """Read-only queries on the embedded engine at ``path`` (the data directory the store opened)."""

    def __init__(self, path: str, limits: dict[str, int]) -> None:
        self.path = os.path.realpath(path)  # the spelling clickhouse-connect used to open the engine
        self.limits = {k: v for k, v in limits.items() if v}

    def run(self, sql: str, fmt: str, database: str | None = None, settings: dict[str, str] | None = None,
            params: dict[str, Any] | None = None) -> Result:
        conn = self._connect()
        try:
            if database:
                self._query(conn, f"USE {quote_ident(database)}")
            merged = {**{k: str(v) for k, v in self.limits.items()}, **(settings or {})}
            if merged:
                self._query(conn, "SET " + ", ".join(f"{k} = {quote_value(v)}" for k, v in merged.items()))
            self._query(conn, "SET readonly = 1")
            res = self._query(conn, sql, fmt, params or None)
            return Result(res.bytes(), fmt, int(res.rows_read()), int(res.bytes_read()), float(res.elapsed()))
        finally:
            conn.close()

    def _connect(self) -> Any:
        try:
            return chdb.connect(self.path)
        except RuntimeError as exc:
            raise EngineException(f"Code: 1000. DB::Exception: cannot open the embedded store: {exc}. "
                                  "(POCO_EXCEPTION)") from None

    @staticmethod
    def _query(conn: Any, sql: str, fmt: str = "TabSeparated", params: dict[str, Any] | None = None) -> Any:
        try:
            return conn.query(sql, fmt, params=params) if params else conn.query(sql, fmt)
        except Exception as exc:  # chdb raises RuntimeError with the engine's message
            raise EngineException(str(exc)) from None

    def timezone(self) -> str:
        conn = self._connect()
        try:
            return self._query(conn, "SELECT timezone()").bytes().decode().strip() or "UTC"
        finally:
            conn.close()
