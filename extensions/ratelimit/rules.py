"""Customer limits: which ``N requests per W seconds`` applies to a request.

Limits come from two places: the extension's YAML ``limits`` and the ``rate_limits`` table
that ``spanlens-pipeline limits`` manages (runtime limits): in the key store's SQLite file
(``SqliteLimits``, the embedded default) or, with the keystore's clickhouse backend, in the
ClickHouse table of migration 0031 that every replica shares (``SharedLimits``). Both are
indexed by what they select; for each scope the most specific limit wins, and a runtime
limit replaces a YAML one with the same selectors.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from spanlens_pipeline.extensions.keystore import ClickHouseKeyStore, SharedTable
from spanlens_pipeline.model import Tenant

from .config import Rule

SCHEMA = [
    """CREATE TABLE rate_limits (
        scope TEXT NOT NULL CHECK (scope IN ('api_key', 'project', 'end_user')),
        api_key_id TEXT NOT NULL DEFAULT '',
        project_id TEXT NOT NULL DEFAULT '',
        end_user TEXT NOT NULL DEFAULT '',
        requests INTEGER NOT NULL CHECK (requests >= 1),
        window_seconds INTEGER NOT NULL CHECK (window_seconds >= 1),
        updated_at REAL NOT NULL,
        PRIMARY KEY (scope, api_key_id, project_id, end_user))""",
]
SELECTORS = ("scope", "api_key_id", "project_id", "end_user")
# The shared table (migration 0031): a change or a removal (removed = 1) is a newer row.
RATE_LIMITS = SharedTable("rate_limits", (*SELECTORS, "requests", "window_seconds", "removed", "updated_at", "version"),
                          key=SELECTORS, times=("updated_at",))


@dataclass(frozen=True, slots=True)
class Limit:
    scope: str
    requests: int
    window: int  # seconds
    source: str  # "config" or "cli"


# Index key: (scope, selector kind "k"/"p"/"", selector value, end user or "").
IndexKey = tuple[str, str, str, str]


class RuleIndex:
    """Limits by selector; ``find`` returns the most specific one for a request."""

    def __init__(self, config_rules: list[Rule], runtime_rows: Iterable[Any]) -> None:
        self.by: dict[IndexKey, Limit] = {}
        for r in config_rules:
            kind, value = ("k", r.key) if r.key else ("p", r.project) if r.project else ("", "")
            self.by[(r.scope, kind, value, r.end_user or "")] = Limit(r.scope, r.requests, r.window // 1000, "config")
        for row in runtime_rows:
            kind, value = ("k", row["api_key_id"]) if row["api_key_id"] else ("p", row["project_id"])
            self.by[(row["scope"], kind, value, row["end_user"])] = Limit(
                row["scope"], row["requests"], row["window_seconds"], "cli")
        self.scopes = {k[0] for k in self.by}

    def find(self, scope: str, tenant: Tenant, end_user: str = "") -> Limit | None:
        if scope not in self.scopes:
            return None
        get = self.by.get
        users = (end_user, "") if end_user else ("",)
        for user in users:
            if scope != "project":
                hit = get((scope, "k", tenant.api_key_id, user)) or get((scope, "k", tenant.key_prefix, user))
                if hit:
                    return hit
            hit = (get((scope, "p", tenant.project_id, user)) or get((scope, "p", tenant.project_name, user))
                   or get((scope, "", "", user)))
            if hit:
                return hit
        return None


# -- the runtime table (used by the extension and the CLI) ---------------------------------

def open_table(keystore) -> sqlite3.Connection:
    """The key store's connection, with the ``rate_limits`` table in place."""
    keystore.ensure_schema("rate_limits", SCHEMA)
    return keystore.db


def set_limit(db: sqlite3.Connection, scope: str, api_key_id: str, project_id: str, end_user: str,
              requests: int, window_seconds: int) -> None:
    db.execute("INSERT INTO rate_limits VALUES (?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (scope, api_key_id, project_id, end_user) DO UPDATE SET "
               "requests = excluded.requests, window_seconds = excluded.window_seconds, "
               "updated_at = excluded.updated_at",
               (scope, api_key_id, project_id, end_user, requests, window_seconds, time.time()))


def clear_limits(db: sqlite3.Connection, api_key_id: str | None, project_id: str | None,
                 scope: str | None, end_user: str | None) -> int:
    """Delete runtime limits of a key (its own and its project's), narrowed by scope and end user."""
    where, params = [], []
    if api_key_id is not None:
        where.append("(api_key_id = ? OR (api_key_id = '' AND project_id = ?))")
        params += [api_key_id, project_id]
    if scope:
        where.append("scope = ?")
        params.append(scope)
    if end_user is not None:
        where.append("end_user = ?")
        params.append(end_user)
    sql = "DELETE FROM rate_limits" + (" WHERE " + " AND ".join(where) if where else "")
    return db.execute(sql, params).rowcount


def runtime_rows(db: sqlite3.Connection) -> list[sqlite3.Row]:
    """Runtime limits with the key prefix and project name they select (for display)."""
    return db.execute(
        "SELECT r.*, k.key_prefix, COALESCE(p.name, kp.name) AS project_name FROM rate_limits r "
        "LEFT JOIN api_keys k ON k.id = r.api_key_id LEFT JOIN projects kp ON kp.id = k.project_id "
        "LEFT JOIN projects p ON p.id = r.project_id ORDER BY r.scope, r.updated_at").fetchall()


class SqliteLimits:
    """Runtime limits in the key store's SQLite file (one service's data directory)."""

    def __init__(self, keystore) -> None:
        self.db = open_table(keystore)

    def set(self, scope: str, api_key_id: str, project_id: str, end_user: str, requests: int,
            window_seconds: int) -> None:
        set_limit(self.db, scope, api_key_id, project_id, end_user, requests, window_seconds)

    def clear(self, api_key_id: str | None, project_id: str | None, scope: str | None,
              end_user: str | None) -> int:
        return clear_limits(self.db, api_key_id, project_id, scope, end_user)

    def listing(self) -> list[Any]:
        return runtime_rows(self.db)


class SharedLimits:
    """Runtime limits in the shared ClickHouse table, read through the key store's snapshot:
    re-read with the keys every ``refresh_interval``, by the same change check."""

    def __init__(self, keystore: ClickHouseKeyStore) -> None:
        keystore.watch(RATE_LIMITS)  # StoreError when the table is not there (migration 0031)
        self.store = keystore

    def _current(self) -> dict[tuple[str, ...], dict[str, Any]]:
        return {tuple(r[c] for c in SELECTORS): r for r in self.store.rows(RATE_LIMITS.name)}

    def active(self) -> list[dict[str, Any]]:
        """The limits in force (removals left out)."""
        return [r for r in self.store.rows(RATE_LIMITS.name) if not r["removed"]]

    def _write(self, rows: list[dict[str, Any]], removed: bool) -> None:
        current, now = self._current(), time.time()
        out = []
        for r in rows:
            old = current.get(tuple(r[c] for c in SELECTORS))
            out.append({**{c: r[c] for c in SELECTORS}, "requests": r["requests"],
                        "window_seconds": r["window_seconds"], "removed": int(removed), "updated_at": now,
                        "version": self.store.version_after(old["version"] if old else 0)})
        self.store.write(RATE_LIMITS.name, out)

    def set(self, scope: str, api_key_id: str, project_id: str, end_user: str, requests: int,
            window_seconds: int) -> None:
        self._write([{"scope": scope, "api_key_id": api_key_id, "project_id": project_id, "end_user": end_user,
                      "requests": requests, "window_seconds": window_seconds}], removed=False)

    def clear(self, api_key_id: str | None, project_id: str | None, scope: str | None,
              end_user: str | None) -> int:
        """Remove (a newer row each) the limits ``clear_limits`` would delete."""
        hits = [r for r in self.active()
                if (api_key_id is None or r["api_key_id"] == api_key_id
                    or (r["api_key_id"] == "" and r["project_id"] == project_id))
                and (not scope or r["scope"] == scope) and (end_user is None or r["end_user"] == end_user)]
        if hits:
            self._write(hits, removed=True)
        return len(hits)

    def listing(self) -> list[dict[str, Any]]:
        """Limits in force with the key prefix and project name they select (for display)."""
        keys = {k.id: k for k in self.store.list_keys()}
        projects = self.store.snapshot.projects
        out = []
        for r in sorted(self.active(), key=lambda r: (r["scope"], r["updated_ms"])):
            key = keys.get(r["api_key_id"])
            project = projects.get(r["project_id"] or (key.project_id if key else ""))
            out.append({**r, "key_prefix": key.prefix if key else None,
                        "project_name": project["name"] if project else None})
        return out


def runtime_limits(keystore) -> SqliteLimits | SharedLimits:
    """The runtime limits of a key store: shared in ClickHouse with the clickhouse backend."""
    return SharedLimits(keystore) if isinstance(keystore, ClickHouseKeyStore) else SqliteLimits(keystore)
