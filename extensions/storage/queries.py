"""Named read queries: one ``queries/<name>.sql`` file each.

A query file holds one statement with ``{db}`` for the database and ``%(name)s``
parameters, which clickhouse-connect binds on the client side (values are quoted, never
pasted into the text).
"""
from __future__ import annotations

import functools
from pathlib import Path

QUERIES_DIR = Path(__file__).with_name("queries")


@functools.cache
def text(name: str) -> str:
    """The statement of ``queries/<name>.sql`` without comment lines."""
    path = QUERIES_DIR / f"{name}.sql"
    if not path.is_file():
        raise KeyError(f"no named query {name!r}")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")


def names() -> list[str]:
    return sorted(p.stem for p in QUERIES_DIR.glob("*.sql"))
