"""Encoded rows bound for one table."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """Encoded rows for one table: ``body`` holds one JSON value per line."""

    table: str
    columns: tuple[str, ...]
    fmt: str
    body: bytes
    rows: int
