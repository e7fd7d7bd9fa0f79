"""Settings of the nop exporter: none."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    pass
