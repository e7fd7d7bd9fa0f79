"""Settings of the keystore extension: where the key store lives."""
from __future__ import annotations

from dataclasses import dataclass

from spanlens_pipeline.errors import ConfigError


@dataclass
class Config:
    path: str = "./data/keystore.db"
    # On the first start with no key at all, create a full key for project "default" and print it once.
    bootstrap_default_key: bool = True

    def validate(self, path: str) -> None:
        if not self.path:
            raise ConfigError(f"{path}::path", "must not be empty")
