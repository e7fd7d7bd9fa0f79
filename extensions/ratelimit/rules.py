"""Customer limits: which ``N requests per W seconds`` applies to a request.

Limits come from two places: the extension's YAML ``limits`` and the ``rate_limits`` table
that ``spanlens-pipeline limits`` manages in the key store file (runtime limits). Both are
indexed by what they select; for each scope the most specific limit wins, and a runtime
limit replaces a YAML one with the same selectors.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

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

    def __init__(self, config_rules: list[Rule], runtime_rows: list[sqlite3.Row]) -> None:
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
