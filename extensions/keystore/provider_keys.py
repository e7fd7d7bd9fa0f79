"""Provider keys: the upstream credentials the proxy uses, stored encrypted.

Each Spanlens key may hold one active provider key per provider (adding another replaces
it). Secrets are kept only as ciphertext (see ``crypto``), in the key store's backend (the
SQLite file or the ClickHouse tables). Azure keys also carry the https origin of their resource.
"""
from __future__ import annotations

import builtins
import time
import uuid
from urllib.parse import urlsplit

from .store import PROVIDER_KEYS_SCHEMA as SCHEMA
from .store import KeyBackend, KeyStoreError, ProviderKey

__all__ = ["SCHEMA", "ProviderKey", "ProviderKeys", "normalize_resource_url"]


def normalize_resource_url(url: str) -> str:
    """The https origin of an Azure resource URL (path, query and trailing slash dropped)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise KeyStoreError("the resource URL must be an https URL such as https://NAME.openai.azure.com")
    return f"https://{parts.netloc}"


class ProviderKeys:
    """Provider-key rows of one key store."""

    def __init__(self, store: KeyBackend) -> None:
        self.store = store
        store.prepare_provider_keys()
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
        kid = str(uuid.uuid4())
        self.store.insert_provider_key(ProviderKey(kid, api_key_id, "", provider, name, encrypted_key, resource_url,
                                                   time.time(), None))
        return self._one(kid)

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
        """The active key of a Spanlens key for one provider (the newest, should two be active)."""
        rows = self.store.provider_key_rows(api_key_id=api_key_id, provider=provider, active=True)
        return rows[-1] if rows else None

    def providers(self, api_key_id: str) -> builtins.list[str]:
        """Providers with an active key under a Spanlens key."""
        return sorted({r.provider for r in self.store.provider_key_rows(api_key_id=api_key_id, active=True)})

    def list(self, api_key_id: str | None = None) -> builtins.list[ProviderKey]:
        return self.store.provider_key_rows(api_key_id=api_key_id)

    def revoke(self, api_key_id: str, provider: str) -> ProviderKey:
        key = self.active(api_key_id, provider)
        if key is None:
            raise KeyStoreError(f"no active {provider} key under this Spanlens key")
        self.store.revoke_provider_key(key.id)
        return self._one(key.id)

    def _one(self, provider_key_id: str) -> ProviderKey:
        rows = self.store.provider_key_rows(id=provider_key_id)
        if not rows:
            raise KeyStoreError(f"no provider key with id {provider_key_id}")
        return rows[0]
