"""Settings of the auth processor."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    keystore: str = "keystore"  # id of the keystore extension
