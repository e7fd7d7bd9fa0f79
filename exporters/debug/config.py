"""Settings of the debug exporter."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class Config:
    verbosity: Literal["basic", "detailed"] = "basic"  # basic: one line a batch; detailed: one a span
