"""Settings of the proxy receiver. Unset timeouts and bases fall back to the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from spanlens_pipeline.confschema import ByteSize, Millis
from spanlens_pipeline.errors import ConfigError

from .providers import PROVIDERS

DEFAULT_UPSTREAM_TIMEOUT_MS = 35_000
DEFAULT_STREAM_DEADLINE_MS = 290_000


@dataclass
class ProviderConfig:
    api_base: str | None = None  # overrides <PROVIDER>_API_BASE and the built-in base


@dataclass
class Config:
    endpoint: str = "localhost:4318"
    path_prefix: str = "/proxy"
    keystore: str = "keystore"  # id of the keystore extension
    ratelimit: str | None = None  # id of a rate-limit extension, if any
    # Until upstream response headers arrive (env UPSTREAM_TIMEOUT_MS, default 35s).
    upstream_timeout: Millis | None = None
    # Whole exchange, streams included, from the request's arrival (env STREAM_DEADLINE_MS, default 290s).
    stream_deadline: Millis | None = None
    max_request_body_size: ByteSize = ByteSize(20 * 1024 * 1024)
    # Log records are gathered this long and stored together (0: each call on its own).
    log_flush_interval: Millis = Millis(200)
    # Id of a wal extension whose log the call records go through (empty: straight to the pipeline).
    wal: str = ""
    providers: dict[str, ProviderConfig] = field(default_factory=dict)

    def validate(self, path: str) -> None:
        if ":" not in self.endpoint:
            raise ConfigError(f"{path}::endpoint", "must be host:port")
        if not self.path_prefix.startswith("/") or self.path_prefix.endswith("/"):
            raise ConfigError(f"{path}::path_prefix", "must start with / and not end with /")
        for name, pc in self.providers.items():
            if name not in PROVIDERS:
                raise ConfigError(f"{path}::providers::{name}",
                                  f"unknown provider (known: {', '.join(PROVIDERS)})")
            if pc.api_base is not None and not pc.api_base.startswith(("http://", "https://")):
                raise ConfigError(f"{path}::providers::{name}::api_base", "must start with http:// or https://")
        for name in ("upstream_timeout", "stream_deadline", "max_request_body_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{path}::{name}", "must be positive")

    def upstream_timeout_ms(self) -> int:
        return self.upstream_timeout or _env_ms("UPSTREAM_TIMEOUT_MS", DEFAULT_UPSTREAM_TIMEOUT_MS)

    def stream_deadline_ms(self) -> int:
        return self.stream_deadline or _env_ms("STREAM_DEADLINE_MS", DEFAULT_STREAM_DEADLINE_MS)

    def api_base(self, name: str) -> str | None:
        """The configured base of a provider: YAML first, then ``<PROVIDER>_API_BASE``."""
        pc = self.providers.get(name)
        return (pc.api_base if pc else None) or os.environ.get(PROVIDERS[name].env_var) or None


def _env_ms(var: str, default: int) -> int:
    value = os.environ.get(var, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"env::{var}", f"must be a positive number of milliseconds, got {value!r}")
    return int(value)
