"""The key store: organizations, projects and Spanlens API keys, in one SQLite file.

This is the ``sqlite`` backend; ``chstore`` is the ``clickhouse`` one, with the same calls
(``KeyBackend``), for replicas that share their keys.

Raw keys are never stored: only their SHA-256 (hex) and a short display prefix. The file
may be changed by other processes (the CLI) while the service runs; ``authenticate``
notices such changes through SQLite's ``data_version`` and reloads, so created and revoked
keys take effect without a restart.

Other parts of the project keep their own tables in the same file: they call
``ensure_schema(name, statements)`` with their own ordered list of DDL statements, which
is applied once per statement and tracked per name in ``schema_versions``.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from spanlens_pipeline.errors import KeyStoreError
from spanlens_pipeline.model import Tenant

FULL_PREFIX = "sl_live_"
PUBLIC_PREFIX = "sl_live_pub_"
_BODY_HEX = 48

MIGRATIONS: list[str] = [
    """
    CREATE TABLE organizations (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);
    CREATE TABLE projects (id TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id),
                           name TEXT NOT NULL, created_at REAL NOT NULL, UNIQUE (organization_id, name));
    CREATE TABLE api_keys (id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
                           key_hash TEXT NOT NULL UNIQUE, key_prefix TEXT NOT NULL,
                           scope TEXT NOT NULL CHECK (scope IN ('full', 'public')),
                           name TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, revoked_at REAL);
    CREATE INDEX api_keys_prefix ON api_keys (key_prefix);
    CREATE TABLE schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
    """,
]


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def looks_like_key(raw: str) -> bool:
    body = raw[len(PUBLIC_PREFIX):] if raw.startswith(PUBLIC_PREFIX) else raw[len(FULL_PREFIX):]
    return raw.startswith(FULL_PREFIX) and len(body) == _BODY_HEX and all(c in "0123456789abcdef" for c in body)


def display_prefix(raw: str) -> str:
    """The part of a key that may be shown and logged: scope marker plus 8 hex digits."""
    head = PUBLIC_PREFIX if raw.startswith(PUBLIC_PREFIX) else FULL_PREFIX
    return raw[: len(head) + 8]


@dataclass(frozen=True)
class KeyInfo:
    id: str
    prefix: str
    scope: str
    project_id: str
    project_name: str
    organization_id: str
    created_at: float
    revoked_at: float | None

    def tenant(self) -> Tenant:
        return Tenant(self.organization_id, self.project_id, self.project_name, self.id, self.prefix, self.scope)


@dataclass(frozen=True)
class ProviderKey:
    id: str
    api_key_id: str
    key_prefix: str
    provider: str
    name: str
    encrypted_key: str
    resource_url: str | None
    created_at: float
    revoked_at: float | None


class KeyBackend(Protocol):
    """What both backends answer (``KeyStore`` here, ``ClickHouseKeyStore`` in ``chstore``)."""

    generation: int

    def close(self) -> None: ...
    def ensure_schema(self, name: str, statements: list[str]) -> None: ...
    def refresh(self) -> int: ...
    def authenticate(self, raw: str) -> Tenant | None: ...
    def project(self, name: str, create: bool = True, organization: str | None = None) -> tuple[str, str]: ...
    def project_ids(self, organization_id: str) -> list[str]: ...
    def create_key(self, project_name: str, public: bool = False, name: str = "",
                   organization: str | None = None) -> tuple[str, KeyInfo]: ...
    def key(self, key_id: str) -> KeyInfo: ...
    def list_keys(self, include_revoked: bool = True) -> list[KeyInfo]: ...
    def find_key(self, key_or_prefix: str) -> KeyInfo: ...
    def revoke(self, key_or_prefix: str) -> KeyInfo: ...
    def has_keys(self) -> bool: ...
    # provider keys (see ``provider_keys.ProviderKeys``)
    def prepare_provider_keys(self) -> None: ...
    def insert_provider_key(self, key: ProviderKey) -> None: ...
    def provider_key_rows(self, *, id: str | None = None, api_key_id: str | None = None,
                          provider: str | None = None, active: bool = False) -> list[ProviderKey]: ...
    def revoke_provider_key(self, provider_key_id: str) -> None: ...


def new_raw_key(public: bool) -> str:
    return (PUBLIC_PREFIX if public else FULL_PREFIX) + secrets.token_hex(_BODY_HEX // 2)


class KeyStore:
    DEFAULT_ORGANIZATION = "default"

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()
        self._cache: dict[str, Tenant | None] = {}
        self._version = -1
        # Bumped whenever cached key data may be stale (another connection wrote, or this one did).
        self.generation = 0

    def _migrate(self) -> None:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                current = self.db.execute("PRAGMA user_version").fetchone()[0]
                for i, script in enumerate(MIGRATIONS[current:], start=current + 1):
                    for stmt in script.split(";"):
                        if stmt.strip():
                            self.db.execute(stmt)
                    self.db.execute(f"PRAGMA user_version = {i}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.db.close()

    def ensure_schema(self, name: str, statements: list[str]) -> None:
        """Apply the statements of ``name`` not applied yet (append-only list, one statement each)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute("SELECT version FROM schema_versions WHERE name = ?", (name,)).fetchone()
                done = row[0] if row else 0
                for stmt in statements[done:]:
                    self.db.execute(stmt)
                if len(statements) > done:
                    self.db.execute("INSERT INTO schema_versions VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
                                    "SET version = excluded.version", (name, len(statements)))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- authentication (hot path) --------------------------------------------------------
    def refresh(self) -> int:
        """Notice writes by other connections (``PRAGMA data_version``); the current generation."""
        with self._lock:
            version = self.db.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._version = version
                self.changed()
            return self.generation

    def changed(self) -> None:
        """Drop what is cached from the key tables (called after every write)."""
        self._cache.clear()
        self.generation += 1

    def authenticate(self, raw: str) -> Tenant | None:
        """The tenant of an active key, or None. Sees changes made by other processes."""
        with self._lock:
            self.refresh()
            h = hash_key(raw)
            if h in self._cache:
                return self._cache[h]
            row = self.db.execute(_KEY_SELECT + " WHERE k.key_hash = ? AND k.revoked_at IS NULL", (h,)).fetchone()
            tenant = _info(row).tenant() if row else None
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[h] = tenant
            return tenant

    # -- management --------------------------------------------------------------------
    def project(self, name: str, create: bool = True, organization: str | None = None) -> tuple[str, str]:
        """(organization_id, project_id) of a project in the named (else the default) organization."""
        organization = organization or self.DEFAULT_ORGANIZATION
        with self._lock:
            org = self.db.execute("SELECT id FROM organizations WHERE name = ?", (organization,)).fetchone()
            if org is None:
                if not create:
                    raise KeyStoreError(f"no project named {name!r}")
                org_id = str(uuid.uuid4())
                self.db.execute("INSERT INTO organizations VALUES (?, ?, ?)", (org_id, organization, time.time()))
            else:
                org_id = org["id"]
            sql = "SELECT id FROM projects WHERE organization_id = ? AND name = ?"
            row = self.db.execute(sql, (org_id, name)).fetchone()
            if row:
                return org_id, row["id"]
            if not create:
                raise KeyStoreError(f"no project named {name!r}")
            pid = str(uuid.uuid4())
            self.db.execute("INSERT INTO projects VALUES (?, ?, ?, ?)", (pid, org_id, name, time.time()))
            return org_id, pid

    def project_ids(self, organization_id: str) -> list[str]:
        """Ids of every project of an organization (what its public keys may read)."""
        with self._lock:
            rows = self.db.execute("SELECT id FROM projects WHERE organization_id = ? ORDER BY id",
                                   (organization_id,)).fetchall()
        return [r["id"] for r in rows]

    def create_key(self, project_name: str, public: bool = False, name: str = "",
                   organization: str | None = None) -> tuple[str, KeyInfo]:
        """Create a key; returns the raw key (shown once) and its record."""
        if not project_name.strip():
            raise KeyStoreError("project name must not be empty")
        raw = new_raw_key(public)
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                _, pid = self.project(project_name.strip(), organization=organization)
                kid = str(uuid.uuid4())
                self.db.execute("INSERT INTO api_keys (id, project_id, key_hash, key_prefix, scope, name, created_at) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (kid, pid, hash_key(raw), display_prefix(raw), "public" if public else "full",
                                 name, time.time()))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.changed()
            return raw, self.key(kid)

    def key(self, key_id: str) -> KeyInfo:
        row = self.db.execute(_KEY_SELECT + " WHERE k.id = ?", (key_id,)).fetchone()
        if row is None:
            raise KeyStoreError(f"no key with id {key_id}")
        return _info(row)

    def list_keys(self, include_revoked: bool = True) -> list[KeyInfo]:
        sql = _KEY_SELECT + ("" if include_revoked else " WHERE k.revoked_at IS NULL") + " ORDER BY k.created_at"
        with self._lock:
            return [_info(r) for r in self.db.execute(sql).fetchall()]

    def find_key(self, key_or_prefix: str) -> KeyInfo:
        """The active key named by its raw value or its display prefix (must match one key)."""
        with self._lock:
            if looks_like_key(key_or_prefix):
                rows = self.db.execute(_KEY_SELECT + " WHERE k.key_hash = ? AND k.revoked_at IS NULL",
                                       (hash_key(key_or_prefix),)).fetchall()
            else:
                rows = self.db.execute(_KEY_SELECT + " WHERE k.key_prefix = ? AND k.revoked_at IS NULL",
                                       (key_or_prefix,)).fetchall()
        if not rows:
            raise KeyStoreError(f"no active key matches {key_or_prefix!r}")
        if len(rows) > 1:
            raise KeyStoreError(f"{key_or_prefix!r} matches {len(rows)} keys; give the full key")
        return _info(rows[0])

    def revoke(self, key_or_prefix: str) -> KeyInfo:
        info = self.find_key(key_or_prefix)
        with self._lock:
            self.db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (time.time(), info.id))
            self.changed()
        return self.key(info.id)

    def has_keys(self) -> bool:
        with self._lock:
            return self.db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None


    # -- provider keys ------------------------------------------------------------------------
    def prepare_provider_keys(self) -> None:
        self.ensure_schema("provider_keys", PROVIDER_KEYS_SCHEMA)

    def insert_provider_key(self, key: ProviderKey) -> None:
        """Store a provider key, revoking the active one of the same Spanlens key and provider."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("UPDATE provider_keys SET revoked_at = ? WHERE api_key_id = ? AND provider = ? "
                                "AND revoked_at IS NULL", (key.created_at, key.api_key_id, key.provider))
                self.db.execute("INSERT INTO provider_keys (id, api_key_id, provider, name, encrypted_key, "
                                "resource_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (key.id, key.api_key_id, key.provider, key.name, key.encrypted_key,
                                 key.resource_url, key.created_at))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.changed()

    def provider_key_rows(self, *, id: str | None = None, api_key_id: str | None = None,
                          provider: str | None = None, active: bool = False) -> list[ProviderKey]:
        """Provider keys matching every given filter, oldest first."""
        where, params = ["1"], []
        for column, value in (("pk.id", id), ("pk.api_key_id", api_key_id), ("pk.provider", provider)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if active:
            where.append("pk.revoked_at IS NULL")
        with self._lock:
            rows = self.db.execute(_PROVIDER_SELECT + " WHERE " + " AND ".join(where) + " ORDER BY pk.created_at",
                                   params).fetchall()
        return [ProviderKey(*tuple(r)) for r in rows]

    def revoke_provider_key(self, provider_key_id: str) -> None:
        with self._lock:
            self.db.execute("UPDATE provider_keys SET revoked_at = ? WHERE id = ?", (time.time(), provider_key_id))
            self.changed()


PROVIDER_KEYS_SCHEMA = [
    """CREATE TABLE provider_keys (
        id TEXT PRIMARY KEY,
        api_key_id TEXT NOT NULL REFERENCES api_keys(id),
        provider TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        encrypted_key TEXT NOT NULL,
        resource_url TEXT,
        created_at REAL NOT NULL,
        revoked_at REAL)""",
    "CREATE UNIQUE INDEX provider_keys_active ON provider_keys (api_key_id, provider) WHERE revoked_at IS NULL",
]
_PROVIDER_SELECT = ("SELECT pk.id, pk.api_key_id, k.key_prefix, pk.provider, pk.name, pk.encrypted_key, "
                    "pk.resource_url, pk.created_at, pk.revoked_at FROM provider_keys pk "
                    "JOIN api_keys k ON k.id = pk.api_key_id")

_KEY_SELECT = ("SELECT k.id, k.key_prefix, k.scope, k.project_id, p.name AS project_name, p.organization_id, "
               "k.created_at, k.revoked_at FROM api_keys k JOIN projects p ON p.id = k.project_id")


def _info(row: sqlite3.Row) -> KeyInfo:
    return KeyInfo(row["id"], row["key_prefix"], row["scope"], row["project_id"], row["project_name"],
                   row["organization_id"], row["created_at"], row["revoked_at"])
