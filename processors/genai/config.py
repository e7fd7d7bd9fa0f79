"""Settings of the genai processor."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    messages: bool = True  # fill the input/output columns from message attributes and events
