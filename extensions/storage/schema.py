"""Versioned schema migrations, applied in order and recorded in ``schema_migrations``.

Each file ``migrations/NNNN_name.sql`` holds one or more statements separated by ``;`` at
the end of a line; ``{database}`` is replaced by the configured database. A migration is
applied once; re-running ``migrate`` is a no-op.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .store import Store

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self, database: str) -> list[str]:
        text = "\n".join(l for l in self.sql.splitlines() if not l.lstrip().startswith("--"))
        text = text.replace("{database}", database)
        return [s.strip() for s in re.split(r";\s*$", text, flags=re.M) if s.strip()]


def available() -> list[Migration]:
    out = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _NAME_RE.match(path.name)
        if not m:
            raise ValueError(f"migration file {path.name} must be named NNNN_name.sql")
        out.append(Migration(int(m.group(1)), m.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise ValueError("two migration files share a version number")
    return out


def migrate(store: Store, database: str) -> list[Migration]:
    """Apply every migration not yet recorded; return the ones applied now."""
    store.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    store.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = ReplacingMergeTree ORDER BY version")
    done = {r["version"] for r in store.query(f"SELECT version FROM {database}.schema_migrations FINAL")}
    applied = []
    for mig in available():
        if mig.version in done:
            continue
        for stmt in mig.statements(database):
            store.command(stmt)
        store.command(f"INSERT INTO {database}.schema_migrations (version, name) VALUES "
                      f"({mig.version}, '{mig.name}')")
        applied.append(mig)
    return applied
