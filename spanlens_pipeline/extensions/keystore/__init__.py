"""Keystore extension: Spanlens API keys (hashed) and the tenants they belong to."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings
from spanlens_pipeline.errors import ConfigError

from . import crypto
from .store import KeyInfo, KeyStore, KeyStoreError, hash_key

__all__ = ["KeyStore", "KeyStoreError", "KeyInfo", "KeystoreExtension", "Config", "factory", "hash_key"]


@dataclass
class Config:
    path: str = "./data/keystore.db"
    # On the first start with no key at all, create a full key for project "default" and print it once.
    bootstrap_default_key: bool = True

    def validate(self, path: str) -> None:
        if not self.path:
            raise ConfigError(f"{path}::path", "must not be empty")


class KeystoreExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.store: KeyStore | None = None

    async def start(self, host: Host) -> None:
        try:  # refuse to start with a malformed ENCRYPTION_KEY (provider keys could not be read)
            crypto.key_from_env()
        except ValueError as exc:
            raise ConfigError(f"env::{crypto.ENV_VAR}", str(exc)) from None
        self.store = KeyStore(self.config.path)
        if self.config.bootstrap_default_key and not self.store.has_keys():
            raw, info = self.store.create_key("default", name="bootstrap")
            print(f"Created a key for project 'default' (shown once, store it now):\n{raw}",
                  file=sys.stdout, flush=True)
            self.logger.warning("no API key existed; created key %s for project 'default'", info.prefix)

    async def shutdown(self) -> None:
        if self.store:
            self.store.close()


factory = Factory(type="keystore", kind=Kind.EXTENSION, config=Config, create=KeystoreExtension)
