"""Provider keys: the upstream credentials the proxy uses, stored encrypted.

Each Spanlens key may hold one active provider key per provider (adding another replaces
it). Secrets are kept only as ciphertext (see ``crypto``); the table lives in the key
store's SQLite file. Azure keys also carry the https origin of their resource.
"""
from __future__ import annotations

import builtins
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from .store import KeyStore, KeyStoreError

SCHEMA = [
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


def normalize_resource_url(url: str) -> str:
    """The https origin of an Azure resource URL (path, query and trailing slash dropped)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise KeyStoreError("the resource URL must be an https URL such as https://NAME.openai.azure.com")
    return f"https://{parts.netloc}"


class ProviderKeys:
    """Provider-key rows of one key store."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        store.ensure_schema("provider_keys", SCHEMA)
        self._active: dict[tuple[str, str], ProviderKey | None] = {}
        self._generation = -1

    def add(self, api_key_id: str, provider: str, encrypted_key: str, *, name: str = "",
            resource_url: str | None = None) -> ProviderKey:
        """Store an encrypted secret, replacing the active key for this provider if any."""
        if provider == "azure":
            if not resource_url:
                raise KeyStoreError("azure keys need the resource URL (--resource-url https://…)")
            resource_url = normalize_resource_url(resource_url)
        elif resource_url:
            raise KeyStoreError("a resource URL is only used for azure")
        kid, now, db = str(uuid.uuid4()), time.time(), self.store.db
        with self.store._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("UPDATE provider_keys SET revoked_at = ? WHERE api_key_id = ? AND provider = ? "
                           "AND revoked_at IS NULL", (now, api_key_id, provider))
                db.execute("INSERT INTO provider_keys (id, api_key_id, provider, name, encrypted_key, resource_url, "
                           "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (kid, api_key_id, provider, name, encrypted_key, resource_url, now))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.store.changed()
        return self._one("WHERE pk.id = ?", (kid,))

    def cached_active(self, api_key_id: str, provider: str) -> tuple[ProviderKey | None, int]:
        """``active`` from memory, reloaded after any key change (hot path); also the generation."""
        generation = self.store.refresh()
        if generation != self._generation:
            self._active.clear()
            self._generation = generation
        k = (api_key_id, provider)
        if k not in self._active:
            if len(self._active) > 100_000:
                self._active.clear()
            self._active[k] = self.active(api_key_id, provider)
        return self._active[k], generation

    def active(self, api_key_id: str, provider: str) -> ProviderKey | None:
        """The active key of a Spanlens key for one provider (one indexed lookup)."""
        rows = self._select("WHERE pk.api_key_id = ? AND pk.provider = ? AND pk.revoked_at IS NULL",
                            (api_key_id, provider))
        return rows[0] if rows else None

    def providers(self, api_key_id: str) -> list[str]:
        """Providers with an active key under a Spanlens key."""
        with self.store._lock:
            rows = self.store.db.execute("SELECT provider FROM provider_keys WHERE api_key_id = ? AND "
                                         "revoked_at IS NULL ORDER BY provider", (api_key_id,)).fetchall()
        return [r[0] for r in rows]

    def list(self, api_key_id: str | None = None) -> list[ProviderKey]:
        if api_key_id:
            return self._select("WHERE pk.api_key_id = ? ORDER BY pk.created_at", (api_key_id,))
        return self._select("ORDER BY pk.created_at", ())

    def revoke(self, api_key_id: str, provider: str) -> ProviderKey:
        key = self.active(api_key_id, provider)
        if key is None:
            raise KeyStoreError(f"no active {provider} key under this Spanlens key")
        with self.store._lock:
            self.store.db.execute("UPDATE provider_keys SET revoked_at = ? WHERE id = ?", (time.time(), key.id))
            self.store.changed()
        return self._one("WHERE pk.id = ?", (key.id,))

    def _one(self, where: str, params: tuple) -> ProviderKey:
        return self._select(where, params)[0]

    def _select(self, where: str, params: tuple) -> builtins.list[ProviderKey]:
        with self.store._lock:
            rows = self.store.db.execute(_SELECT + where, params).fetchall()
        return [ProviderKey(*tuple(r)) for r in rows]


_SELECT = ("SELECT pk.id, pk.api_key_id, k.key_prefix, pk.provider, pk.name, pk.encrypted_key, pk.resource_url, "
           "pk.created_at, pk.revoked_at FROM provider_keys pk JOIN api_keys k ON k.id = pk.api_key_id ")

