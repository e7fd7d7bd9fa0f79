"""The ``clickhouse`` key store backend: the key tables of migration 0030, shared by replicas.

Every write is a new row with a higher ``version`` (ReplacingMergeTree): a revoke is a newer
row of the same key. Each process holds a snapshot of all four tables in memory; lookups
(``authenticate``, provider keys) read only the snapshot, and ``reload`` (run every
``refresh_interval`` by the extension, and after each write here) replaces it with what the
tables hold (read with ``FINAL``). So a key created or revoked through any replica or the
CLI holds everywhere within one interval, and lookups keep working while the store is down.

Organization and project ids are derived from their names (UUID v5), so two replicas
creating the same project at once write the same row instead of two projects.

Other components may keep a versioned table of their own in the same snapshot (``watch``: the
ratelimit extension's ``rate_limits`` of migration 0031): it is re-read with the key tables, by
the same change check, and ``write`` adds its rows. Local tables (``ensure_schema``, ``db``)
still have a SQLite file at ``path``, as with the sqlite backend.
"""
from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from spanlens_pipeline.errors import KeyStoreError
from spanlens_pipeline.extensions.storage import Store
from spanlens_pipeline.model import Tenant

from .store import KeyInfo, KeyStore, ProviderKey, display_prefix, hash_key, looks_like_key, new_raw_key

_NAMESPACE = uuid.UUID("5b0c7d1e-2f7a-4c59-9a51-3c1d6f0e8a21")
TABLES = ("organizations", "projects", "api_keys", "provider_keys")


@dataclass(frozen=True, slots=True)
class SharedTable:
    """A ``ReplacingMergeTree(version)`` table kept in the snapshot. ``key``: the columns one row
    replaces by; ``times``: ``DateTime64(3)`` columns, unix seconds in written rows and read as
    ``<name without _at>_ms`` milliseconds."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...] = ("id",)
    times: tuple[str, ...] = ()

    def select(self, database: str) -> str:
        cols = ", ".join(f"toUnixTimestamp64Milli({c}) AS {c[:-3]}_ms" if c in self.times else c
                         for c in self.columns)
        return f"SELECT {cols} FROM {database}.{self.name} FINAL"

    def as_read(self, row: dict[str, Any]) -> dict[str, Any]:
        """A written row as ``select`` returns it."""
        out = {k: v for k, v in row.items() if k not in self.times}
        out.update({f"{c[:-3]}_ms": _ms(row.get(c)) for c in self.times})
        return out


@dataclass(frozen=True, slots=True)
class _Key:
    info: KeyInfo
    key_hash: str
    name: str
    version: int


@dataclass
class Snapshot:
    """The key tables as of one ``reload`` (never changed in place once published)."""

    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → row
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → row
    keys: dict[str, _Key] = field(default_factory=dict)  # id → key
    provider_keys: dict[str, tuple[ProviderKey, str, int]] = field(default_factory=dict)  # id → (key, project, v)
    org_by_name: dict[str, str] = field(default_factory=dict)
    project_by_name: dict[tuple[str, str], str] = field(default_factory=dict)  # (org id, name) → id
    tenants: dict[str, Tenant] = field(default_factory=dict)  # hash of an active key → tenant
    watched: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # other tables' rows (``watch``)
    fingerprint: tuple = ()

    @classmethod
    def of(cls, rows: dict[str, list[dict[str, Any]]]) -> Snapshot:
        snap = cls()
        for r in rows["organizations"]:
            snap.organizations[r["id"]] = r
            snap.org_by_name[r["name"]] = r["id"]
        for r in rows["projects"]:
            snap.projects[r["id"]] = r
            snap.project_by_name[(r["organization_id"], r["name"])] = r["id"]
        for r in rows["api_keys"]:
            project = snap.projects.get(r["project_id"])
            if project is None:  # its project row has not reached this server yet
                continue
            info = KeyInfo(r["id"], r["key_prefix"], r["scope"], r["project_id"], project["name"],
                           project["organization_id"], r["created_ms"] / 1000, _seconds(r["revoked_ms"]))
            snap.keys[info.id] = _Key(info, r["key_hash"], r["name"], r["version"])
            if info.revoked_at is None:
                snap.tenants[r["key_hash"]] = info.tenant()
        # One active provider key per Spanlens key and provider: should two replicas add one at
        # once, the newer replaces the older (as if it had revoked it when it was added).
        newer: dict[tuple[str, str], float] = {}
        for r in sorted(rows["provider_keys"], key=lambda r: (r["created_ms"], r["id"]), reverse=True):
            key = snap.keys.get(r["api_key_id"])
            created, revoked = r["created_ms"] / 1000, _seconds(r["revoked_ms"])
            group = (r["api_key_id"], r["provider"])
            if revoked is None and group in newer:
                revoked = newer[group]
            newer[group] = created
            pk = ProviderKey(r["id"], r["api_key_id"], key.info.prefix if key else "", r["provider"], r["name"],
                             r["encrypted_key"], r["resource_url"], created, revoked)
            snap.provider_keys[pk.id] = (pk, r["project_id"], r["version"])
        snap.watched = {t: r for t, r in rows.items() if t not in TABLES}
        return snap


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


_TIMES = ("created_at", "revoked_at")
KEY_TABLES = {
    "organizations": SharedTable("organizations", ("id", "name", "created_at", "version"), times=("created_at",)),
    "projects": SharedTable("projects", ("id", "organization_id", "name", "created_at", "version"),
                            times=("created_at",)),
    "api_keys": SharedTable("api_keys", ("project_id", "id", "key_hash", "key_prefix", "scope", "name", "created_at",
                                         "revoked_at", "version"), times=_TIMES),
    "provider_keys": SharedTable("provider_keys", ("project_id", "api_key_id", "id", "provider", "name",
                                                   "encrypted_key", "resource_url", "created_at", "revoked_at",
                                                   "version"), times=_TIMES),
}


class ClickHouseKeyStore:
    """``KeyStore``'s calls over the ClickHouse key tables (see the module docstring)."""

    DEFAULT_ORGANIZATION = KeyStore.DEFAULT_ORGANIZATION

    def __init__(self, store: Store, database: str, local_path: str) -> None:
        self.ch, self.database, self.local_path = store, database, local_path
        self._lock = threading.RLock()
        self._local: KeyStore | None = None
        self.generation = 0
        self.snapshot = Snapshot()
        self._tickets = self._published = 0  # a reload that started before a newer one finished is dropped
        self.tables: dict[str, SharedTable] = dict(KEY_TABLES)
        self.reload()

    # -- the snapshot ---------------------------------------------------------------------
    def reload(self, written: tuple[str, list[dict[str, Any]]] | None = None) -> int:
        """Read the tables into a new snapshot (``StoreError`` if the store is down); the generation.

        ``written``: rows this process just inserted, kept even if the server read from does
        not show them yet (a cluster replicates them a moment later)."""
        with self._lock:
            self._tickets += 1
            ticket, tables = self._tickets, list(self.tables.values())
        fingerprint = self._fingerprint(tables)
        if written is None and fingerprint == self.snapshot.fingerprint:
            return self.generation  # nothing changed: the tables are not read again
        rows = {t.name: self.ch.query(t.select(self.database)) for t in tables}
        if written:
            name, new = written
            table = self.tables[name]
            fetched = {tuple(r[c] for c in table.key): r for r in rows[name]}
            for r in new:
                key = tuple(r[c] for c in table.key)
                if key not in fetched or fetched[key]["version"] < r["version"]:
                    fetched[key] = table.as_read(r)
            rows[name] = list(fetched.values())
        snap = Snapshot.of(rows)
        snap.fingerprint = fingerprint
        with self._lock:
            if ticket < self._published:
                return self.generation
            self._published = ticket
            if snap.fingerprint != self.snapshot.fingerprint:
                self.generation += 1
            self.snapshot = snap
            return self.generation

    def _fingerprint(self, tables: list[SharedTable]) -> tuple:
        """Row count and version sum of each table: any write changes one of them."""
        parts = ", ".join(f"(SELECT tuple(count(), sum(version)) FROM {self.database}.{t.name} FINAL) AS {t.name}"
                          for t in tables)
        row = self.ch.query("SELECT " + parts)[0]
        return tuple((t.name, *row[t.name]) for t in tables)

    def watch(self, table: SharedTable) -> None:
        """Keep ``table`` in the snapshot too (``rows``), re-read with the key tables whenever
        it changes. ``StoreError`` (and nothing watched) if it cannot be read."""
        with self._lock:
            if table.name in self.tables:
                return
            self.ch.query(f"SELECT count() FROM {self.database}.{table.name}")  # there, or StoreError
            self.tables[table.name] = table
            self.reload()

    def rows(self, table: str) -> list[dict[str, Any]]:
        """A watched table's rows as of the last reload (the newest version of each)."""
        return self.snapshot.watched.get(table, [])

    def refresh(self) -> int:
        """The generation (lookups never wait for the store; ``reload`` runs in the background)."""
        return self.generation

    def changed(self) -> None:
        with self._lock:
            self.generation += 1

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert versioned rows into a key or watched table, then re-read (our own writes are
        visible at once)."""
        spec = self.tables[table]
        values, params = [], {}
        for i, row in enumerate(rows):
            slots = []
            for c in spec.columns:
                name = f"{c}_{i}"
                params[name] = _ms(row.get(c)) if c in spec.times else row[c]
                slots.append(f"fromUnixTimestamp64Milli(%({name})s, 'UTC')"
                             if c in spec.times and params[name] is not None else f"%({name})s")
            values.append("(" + ", ".join(slots) + ")")
        with self._lock:
            self.ch.command(f"INSERT INTO {self.database}.{table} ({', '.join(spec.columns)}) VALUES "
                            + ", ".join(values), params)
            self.reload((table, rows))
            self.changed()

    @staticmethod
    def version_after(previous: int = 0) -> int:
        """A row version newer than ``previous`` (nanoseconds of the wall clock)."""
        return max(time.time_ns(), previous + 1)

    # -- local tables of other components ----------------------------------------------------
    @property
    def local(self) -> KeyStore:
        if self._local is None:
            self._local = KeyStore(self.local_path)
        return self._local

    @property
    def db(self) -> sqlite3.Connection:
        return self.local.db

    def ensure_schema(self, name: str, statements: list[str]) -> None:
        self.local.ensure_schema(name, statements)

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
            self._local = None

    # -- authentication (hot path) --------------------------------------------------------
    def authenticate(self, raw: str) -> Tenant | None:
        return self.snapshot.tenants.get(hash_key(raw))

    # -- management --------------------------------------------------------------------
    def project(self, name: str, create: bool = True, organization: str | None = None) -> tuple[str, str]:
        organization = organization or self.DEFAULT_ORGANIZATION
        with self._lock:
            snap = self.snapshot
            org_id = snap.org_by_name.get(organization)
            pid = snap.project_by_name.get((org_id, name)) if org_id else None
            if pid:
                return org_id, pid  # type: ignore[return-value]
            if not create:
                raise KeyStoreError(f"no project named {name!r}")
            now = time.time()
            if org_id is None:
                org_id = str(uuid.uuid5(_NAMESPACE, f"organization\0{organization}"))
                self.write("organizations", [{"id": org_id, "name": organization, "created_at": now,
                                               "version": self.version_after()}])
            pid = str(uuid.uuid5(_NAMESPACE, f"project\0{org_id}\0{name}"))
            self.write("projects", [{"id": pid, "organization_id": org_id, "name": name, "created_at": now,
                                      "version": self.version_after()}])
            return org_id, pid

    def organization_names(self) -> dict[str, str]:
        """Organization id → name."""
        return {oid: r["name"] for oid, r in self.snapshot.organizations.items()}

    def project_ids(self, organization_id: str) -> list[str]:
        return sorted(pid for pid, r in self.snapshot.projects.items() if r["organization_id"] == organization_id)

    def create_key(self, project_name: str, public: bool = False, name: str = "",
                   organization: str | None = None) -> tuple[str, KeyInfo]:
        if not project_name.strip():
            raise KeyStoreError("project name must not be empty")
        raw = new_raw_key(public)
        with self._lock:
            _, pid = self.project(project_name.strip(), organization=organization)
            kid = str(uuid.uuid4())
            self.write("api_keys", [{"project_id": pid, "id": kid, "key_hash": hash_key(raw),
                                      "key_prefix": display_prefix(raw), "scope": "public" if public else "full",
                                      "name": name, "created_at": time.time(), "revoked_at": None,
                                      "version": self.version_after()}])
            return raw, self.key(kid)

    def key(self, key_id: str) -> KeyInfo:
        k = self.snapshot.keys.get(key_id)
        if k is None:
            raise KeyStoreError(f"no key with id {key_id}")
        return k.info

    def list_keys(self, include_revoked: bool = True) -> list[KeyInfo]:
        keys = [k.info for k in self.snapshot.keys.values() if include_revoked or k.info.revoked_at is None]
        return sorted(keys, key=lambda i: i.created_at)

    def find_key(self, key_or_prefix: str) -> KeyInfo:
        active = [k for k in self.snapshot.keys.values() if k.info.revoked_at is None]
        if looks_like_key(key_or_prefix):
            h = hash_key(key_or_prefix)
            found = [k.info for k in active if k.key_hash == h]
        else:
            found = [k.info for k in active if k.info.prefix == key_or_prefix]
        if not found:
            raise KeyStoreError(f"no active key matches {key_or_prefix!r}")
        if len(found) > 1:
            raise KeyStoreError(f"{key_or_prefix!r} matches {len(found)} keys; give the full key")
        return found[0]

    def revoke(self, key_or_prefix: str) -> KeyInfo:
        with self._lock:
            info = self.find_key(key_or_prefix)
            k = self.snapshot.keys[info.id]
            self.write("api_keys", [{"project_id": info.project_id, "id": info.id, "key_hash": k.key_hash,
                                      "key_prefix": info.prefix, "scope": info.scope, "name": k.name,
                                      "created_at": info.created_at, "revoked_at": time.time(),
                                      "version": self.version_after(k.version)}])
            return self.key(info.id)

    def has_keys(self) -> bool:
        return bool(self.snapshot.keys)

    # -- provider keys ------------------------------------------------------------------------
    def prepare_provider_keys(self) -> None:
        """Nothing to do: the table comes with the storage migrations."""

    def insert_provider_key(self, key: ProviderKey) -> None:
        with self._lock:
            api_key = self.snapshot.keys.get(key.api_key_id)
            if api_key is None:
                raise KeyStoreError(f"no key with id {key.api_key_id}")
            project_id = api_key.info.project_id
            rows = [_provider_row(replace(old, revoked_at=key.created_at), project_id, self.version_after(version))
                    for old, _, version in self.snapshot.provider_keys.values()
                    if old.api_key_id == key.api_key_id and old.provider == key.provider and old.revoked_at is None]
            rows.append(_provider_row(key, project_id, self.version_after()))
            self.write("provider_keys", rows)

    def provider_key_rows(self, *, id: str | None = None, api_key_id: str | None = None,
                          provider: str | None = None, active: bool = False) -> list[ProviderKey]:
        """Provider keys matching every given filter, oldest first."""
        out = [pk for pk, _, _ in self.snapshot.provider_keys.values()
               if (id is None or pk.id == id) and (api_key_id is None or pk.api_key_id == api_key_id)
               and (provider is None or pk.provider == provider) and (not active or pk.revoked_at is None)]
        return sorted(out, key=lambda pk: pk.created_at)

    def revoke_provider_key(self, provider_key_id: str) -> None:
        with self._lock:
            found = self.snapshot.provider_keys.get(provider_key_id)
            if found is None:
                raise KeyStoreError(f"no provider key with id {provider_key_id}")
            pk, project_id, version = found
            self.write("provider_keys", [_provider_row(replace(pk, revoked_at=time.time()), project_id,
                                                        self.version_after(version))])


def _provider_row(pk: ProviderKey, project_id: str, version: int) -> dict[str, Any]:
    return {"project_id": project_id, "api_key_id": pk.api_key_id, "id": pk.id, "provider": pk.provider,
            "name": pk.name, "encrypted_key": pk.encrypted_key, "resource_url": pk.resource_url,
            "created_at": pk.created_at, "revoked_at": pk.revoked_at, "version": version}
