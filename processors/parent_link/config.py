"""Settings of the parent_link processor."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    storage: str = "storage"  # id of the storage extension asked which trace a span belongs to
