"""Settings of the native ingest receiver."""
from __future__ import annotations

from dataclasses import dataclass

from spanlens_pipeline.confschema import ByteSize
from spanlens_pipeline.errors import ConfigError


@dataclass
class Config:
    endpoint: str = "localhost:4318"
    # Largest request body (inputs and outputs included), after decompression.
    max_request_body_size: ByteSize = ByteSize(8 * 1024 * 1024)
    # Largest ``metadata`` object, as JSON.
    max_metadata_size: ByteSize = ByteSize(64 * 1024)
    # The storage extension asked whether a trace or span was created before (201 vs 200).
    storage: str = "storage"
    # Id of a wal extension: answer once a call is in its log (empty: once it is stored).
    wal: str = ""

    def validate(self, path: str) -> None:
        if ":" not in self.endpoint:
            raise ConfigError(f"{path}::endpoint", "must be host:port")
        for name in ("max_request_body_size", "max_metadata_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}::{name}", "must be at least 1")
