"""Settings of the wal extension: where the log lives, how big it may grow, how it syncs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spanlens_pipeline.confschema import ByteSize, Millis
from spanlens_pipeline.errors import ConfigError


@dataclass
class Config:
    directory: str = ""
    # Entries not yet stored, at most; past it receivers answer 503 LOG_FULL with Retry-After.
    max_size: ByteSize = ByteSize(1024**3)
    segment_size: ByteSize = ByteSize(64 * 1024**2)
    # always: each group of appends is fdatasync'ed before any of them is answered;
    # never: answered once written (survives a crash of the process, not of the machine).
    fsync: Literal["always", "never"] = "always"
    max_load_size: ByteSize = ByteSize(32 * 1024**2)  # bytes of entries loaded into the store together
    # A group starts at most this often (sooner when max_load_size is waiting or a reader waits).
    load_interval: Millis = Millis(1000)
    max_retry_interval: Millis = Millis(5000)  # backoff between loads while the store refuses
    drain_timeout: Millis = Millis(10000)  # at shutdown, time to load what is left (the rest waits on disk)

    def validate(self, path: str) -> None:
        if not self.directory:
            raise ConfigError(f"{path}::directory", "is required")
        if self.segment_size < 1024**2:
            raise ConfigError(f"{path}::segment_size", "must be at least 1MiB")
        if self.max_size < self.segment_size:
            raise ConfigError(f"{path}::max_size", "must be at least segment_size")
        if self.max_load_size < 64 * 1024:
            raise ConfigError(f"{path}::max_load_size", "must be at least 64KiB")
        if not 0 <= self.load_interval <= 60_000:
            raise ConfigError(f"{path}::load_interval", "must be between 0 and 60s")
        if self.max_retry_interval < 10:
            raise ConfigError(f"{path}::max_retry_interval", "must be at least 10ms")
