"""Settings of the sql extension: where it listens, who may query, and the per-query bounds."""
from __future__ import annotations

from dataclasses import dataclass

from spanlens_pipeline.confschema import ByteSize
from spanlens_pipeline.errors import ConfigError


@dataclass
class Config:
    endpoint: str = "localhost:8123"
    username: str = "spanlens"
    # Empty: a generated password kept in ``password_file`` (created with mode 0600 on first start).
    password: str = ""
    password_file: str = "./data/sql_password"
    storage: str = "storage"  # id of the storage extension whose embedded store is queried
    max_execution_time: int = 30  # seconds per query
    max_memory_usage: ByteSize = ByteSize(2 * 1024**3)  # bytes per query
    max_result_rows: int = 0  # 0: no limit
    max_result_bytes: ByteSize = ByteSize(1024**3)  # uncompressed result size per query; 0: no limit
    max_query_size: ByteSize = ByteSize(1024**2)  # bytes of query text
    max_concurrent_queries: int = 4  # further queries get TOO_MANY_SIMULTANEOUS_QUERIES

    def validate(self, path: str) -> None:
        host, sep, port = self.endpoint.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"{path}::endpoint", f"must be host:port, got {self.endpoint!r}")
        if not self.username or any(c in self.username for c in ":\r\n"):
            raise ConfigError(f"{path}::username", "must be a non-empty name without ':' or line breaks")
        if not self.password and not self.password_file:
            raise ConfigError(f"{path}::password_file", "is needed when no password is set")
        if self.max_execution_time < 1:
            raise ConfigError(f"{path}::max_execution_time", "must be at least 1 (seconds)")
        if self.max_memory_usage < 1024**2:
            raise ConfigError(f"{path}::max_memory_usage", "must be at least 1MiB")
        if self.max_result_rows < 0:
            raise ConfigError(f"{path}::max_result_rows", "must not be negative")
        if self.max_query_size < 1024:
            raise ConfigError(f"{path}::max_query_size", "must be at least 1KiB")
        if self.max_concurrent_queries < 1:
            raise ConfigError(f"{path}::max_concurrent_queries", "must be at least 1")
