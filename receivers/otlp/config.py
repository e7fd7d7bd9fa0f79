"""Settings of the OTLP/HTTP receiver."""
from __future__ import annotations

from dataclasses import dataclass

from spanlens_pipeline.confschema import ByteSize
from spanlens_pipeline.errors import ConfigError
from spanlens_pipeline.limits import Limits


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
    max_links_per_span: int = 128
    # A resource's attributes are copied into each of its span rows: bounded tighter.
    max_resource_attributes: int = 128
    max_resource_attribute_value_length: ByteSize = ByteSize(4096)
    # Nesting of a JSON body; deeper → 400.
    max_json_depth: int = 128
    # Id of a wal extension: answer once a request is in its log (empty: once it is stored).
    wal: str = ""

    def validate(self, path: str) -> None:
        if ":" not in self.endpoint:
            raise ConfigError(f"{path}::endpoint", "must be host:port")
        if not self.traces_url_path.startswith("/"):
            raise ConfigError(f"{path}::traces_url_path", "must start with /")
        for name in ("max_request_body_size", "max_attributes_per_span", "max_attribute_value_length",
                     "max_events_per_span", "max_links_per_span", "max_resource_attributes",
                     "max_resource_attribute_value_length", "max_json_depth"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}::{name}", "must be at least 1")

    @property
    def limits(self) -> Limits:
        return Limits(max_attributes=self.max_attributes_per_span, max_value_length=self.max_attribute_value_length,
                      max_events=self.max_events_per_span, max_links=self.max_links_per_span,
                      max_resource_attributes=self.max_resource_attributes,
                      max_resource_value_length=self.max_resource_attribute_value_length,
                      max_depth=self.max_json_depth)
