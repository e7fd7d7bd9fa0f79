"""Settings of the truncation processor: the body bound, the preview, key masking."""
from __future__ import annotations

from dataclasses import dataclass

from spanlens_pipeline.confschema import ByteSize
from spanlens_pipeline.errors import ConfigError


@dataclass
class Config:
    max_body_size: ByteSize = ByteSize(64 * 1024)
    preview_chars: int = 2048
    mask_api_keys: bool = True

    def validate(self, path: str) -> None:
        if self.max_body_size < 1:
            raise ConfigError(f"{path}::max_body_size", "must be positive")
        if self.preview_chars < 0:
            raise ConfigError(f"{path}::preview_chars", "must not be negative")
