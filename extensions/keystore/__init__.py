"""Keystore extension: Spanlens API keys (hashed) and the tenants they belong to."""
from __future__ import annotations

import sys

from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings
from spanlens_pipeline.errors import ConfigError
from spanlens_pipeline.model import Tenant

from . import cli, crypto
from .auth import authenticate, key_from_headers
from .config import Config
from .provider_keys import ProviderKey, ProviderKeys
from .store import KeyInfo, KeyStore, KeyStoreError, hash_key

__all__ = ["KeyStore", "KeyStoreError", "KeyInfo", "KeystoreExtension", "Config", "authenticate", "factory",
           "hash_key", "key_from_headers", "ProviderKey", "ProviderKeys"]


class KeystoreExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.store: KeyStore | None = None
        self.provider_keys: ProviderKeys | None = None

    async def start(self, host: Host) -> None:
        try:  # refuse to start with a malformed ENCRYPTION_KEY (provider keys could not be read)
            crypto.key_from_env()
        except ValueError as exc:
            raise ConfigError(f"env::{crypto.ENV_VAR}", str(exc)) from None
        self.store = KeyStore(self.config.path)
        self.provider_keys = ProviderKeys(self.store)
        if self.config.bootstrap_default_key and not self.store.has_keys():
            raw, info = self.store.create_key("default", name="bootstrap")
            print(f"Created a key for project 'default' (shown once, store it now):\n{raw}",
                  file=sys.stdout, flush=True)
            self.logger.warning("no API key existed; created key %s for project 'default'", info.prefix)

    def open(self) -> KeyStore:
        """A connection of its own to the key store file (for the CLI; the service uses ``store``)."""
        return KeyStore(self.config.path)

    def authenticate(self, headers: dict[str, str], write: bool) -> Tenant:
        """The tenant behind a request's key (401/403 as ``auth.authenticate``)."""
        assert self.store is not None, "keystore extension not started"
        return authenticate(self.store, headers, write)

    async def shutdown(self) -> None:
        if self.store:
            self.store.close()


factory = Factory(type="keystore", kind=Kind.EXTENSION, config=Config, create=KeystoreExtension,
                  commands=cli.register)
