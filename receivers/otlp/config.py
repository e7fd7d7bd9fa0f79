"""Settings of the OTLP/HTTP receiver."""
from __future__ import annotations

from dataclasses import dataclass

from spanlens_pipeline.confschema import ByteSize
from spanlens_pipeline.errors import ConfigError


@dataclass
class Config:
    endpoint: str = "localhost:4318"
    traces_url_path: str = "/v1/traces"
    # Largest body accepted, measured after decompression.
    max_request_body_size: ByteSize = ByteSize(20 * 1024 * 1024)
    # Per-span limits: attributes beyond the count are dropped, longer values are cut; the span is flagged.
    max_attributes_per_span: int = 1024
    max_attribute_value_length: ByteSize = ByteSize(256 * 1024)
    max_events_per_span: int = 256

    def validate(self, path: str) -> None:
        if ":" not in self.endpoint:
            raise ConfigError(f"{path}::endpoint", "must be host:port")
        if not self.traces_url_path.startswith("/"):
            raise ConfigError(f"{path}::traces_url_path", "must start with /")
        for name in ("max_request_body_size", "max_attributes_per_span", "max_attribute_value_length",
                     "max_events_per_span"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}::{name}", "must be at least 1")
