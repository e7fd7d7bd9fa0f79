"""Versioned schema migrations, applied in order and recorded in ``schema_migrations``.

Each file ``migrations/NNNN_name.sql`` holds one or more statements separated by ``;`` at
the end of a line; ``{database}`` is replaced by the configured database. A migration is
applied once; re-running ``migrate`` is a no-op.

With a ``cluster`` name the same migrations render for a ClickHouse cluster (``render``): every
statement runs ``ON CLUSTER``, each table becomes a ``Replicated*`` ``<name>_local`` table (the
``{shard}``/``{replica}`` macros of each server) under a ``Distributed`` table of the original
name that keeps a trace on one shard, and views read the ``Distributed`` tables. The key
store's small tables (``WHOLE_ON_EVERY_SERVER``) are instead replicated whole to every server.
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

    def statements(self, database: str, cluster: str = "") -> list[str]:
        text = "\n".join(l for l in self.sql.splitlines() if not l.lstrip().startswith("--"))
        text = text.replace("{database}", database)
        out = [s.strip() for s in re.split(r";\s*$", text, flags=re.M) if s.strip()]
        return [c for s in out for c in for_cluster(s, database, cluster)] if cluster else out


# Rows of one trace land on one shard, so a trace is read and merged (FINAL) where it lives.
SHARDING_KEY = "cityHash64(project_id, trace_id)"
# Small tables every server keeps a whole copy of (the key store, runtime rate limits): one
# keeper path for the whole cluster, no shard and no Distributed twin, so any server answers
# for every key.
WHOLE_ON_EVERY_SERVER = frozenset({"organizations", "projects", "api_keys", "provider_keys", "rate_limits"})
_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)\s*\(", re.S)
_ENGINE = re.compile(r"\bENGINE\s*=\s*(\w*MergeTree)\b(?:\(([^)]*)\))?")
_ALTER = re.compile(r"^ALTER TABLE (\w+)\.(\w+) ")
_CREATE_VIEW = re.compile(r"^CREATE (VIEW IF NOT EXISTS|OR REPLACE VIEW) (\w+\.\w+) AS\b")
_CREATE_MV = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+\.\w+) TO (\w+)\.(\w+) AS\b")
_FROM_TABLE = re.compile(r"\bFROM (\w+)\.(\w+)\b")


def _on(cluster: str) -> str:
    return "ON CLUSTER '" + cluster.replace("'", "") + "'"


def replicated_engine(engine: str, args: str, path: str) -> str:
    """``ReplacingMergeTree(v)`` → ``ReplicatedReplacingMergeTree('<path>', '{replica}', v)``."""
    rest = f", {args.strip()}" if args and args.strip() else ""
    return f"Replicated{engine}('{path}', '{{replica}}'{rest})"


def for_cluster(stmt: str, database: str, cluster: str) -> list[str]:
    """One single-node statement as the statements a cluster runs (see the module docstring)."""
    on = _on(cluster)
    m = _CREATE_TABLE.match(stmt)
    if m:
        db, name = m.group(1), m.group(2)
        whole = name in WHOLE_ON_EVERY_SERVER
        local = name if whole else f"{name}_local"
        e = _ENGINE.search(stmt)
        if not e:
            raise ValueError(f"table {name}: no MergeTree engine to replicate")
        path = f"/clickhouse/tables/{db}/{name}" if whole else f"/clickhouse/tables/{{shard}}/{db}/{local}"
        engine = replicated_engine(e.group(1), e.group(2) or "", path)
        body = stmt[m.end():]
        body = body[:e.start() - m.end()] + f"ENGINE = {engine}" + body[e.end() - m.end():]
        if whole:
            return [f"CREATE TABLE IF NOT EXISTS {db}.{name} {on}\n(" + body]
        return [f"CREATE TABLE IF NOT EXISTS {db}.{local} {on}\n(" + body,
                f"CREATE TABLE IF NOT EXISTS {db}.{name} {on} AS {db}.{local}\n"
                f"ENGINE = Distributed('{cluster}', '{db}', '{local}', {SHARDING_KEY})"]
    m = _ALTER.match(stmt)
    if m:  # indexes and columns live on the local tables
        return [f"ALTER TABLE {m.group(1)}.{m.group(2)}_local {on} " + stmt[m.end():]]
    m = _CREATE_VIEW.match(stmt)
    if m:  # views read the Distributed tables, which fan out to every shard
        return [f"CREATE {m.group(1)} {m.group(2)} {on} AS" + stmt[m.end():]]
    m = _CREATE_MV.match(stmt)
    if m:  # a rollup runs on each shard: it reads the local inserts and writes the local rollup
        body = _FROM_TABLE.sub(lambda f: f"FROM {f.group(1)}.{f.group(2)}_local", stmt[m.end():])
        return [f"CREATE MATERIALIZED VIEW IF NOT EXISTS {m.group(1)} {on} TO {m.group(2)}.{m.group(3)}_local AS"
                + body]
    if stmt.startswith("INSERT INTO "):  # a backfill: once, through the Distributed tables
        return [stmt]
    raise ValueError(f"no cluster form for statement: {stmt[:60]}")


def bootstrap(database: str, cluster: str = "") -> list[str]:
    """The database and the ``schema_migrations`` table (one copy on every server of a cluster)."""
    on = f" {_on(cluster)}" if cluster else ""
    engine = (replicated_engine("ReplacingMergeTree", "", f"/clickhouse/tables/{database}/schema_migrations")
              if cluster else "ReplacingMergeTree")
    return [f"CREATE DATABASE IF NOT EXISTS {database}{on}",
            f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations{on} "
            f"(version UInt32, name String, applied_at DateTime DEFAULT now()) "
            f"ENGINE = {engine} ORDER BY version"]


def render(database: str, cluster: str = "") -> list[str]:
    """Every statement a fresh store runs for ``database`` (``migrate --dry-run``)."""
    out = bootstrap(database, cluster)
    for mig in available():
        out += mig.statements(database, cluster)
        out.append(_record(database, mig))
    return out


def _record(database: str, mig: Migration) -> str:
    return f"INSERT INTO {database}.schema_migrations (version, name) VALUES ({mig.version}, '{mig.name}')"


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


def migrate(store: Store, database: str, cluster: str = "") -> list[Migration]:
    """Apply every migration not yet recorded; return the ones applied now."""
    for stmt in bootstrap(database, cluster):
        store.command(stmt)
    done = {r["version"] for r in store.query(f"SELECT version FROM {database}.schema_migrations FINAL")}
    applied = []
    for mig in available():
        if mig.version in done:
            continue
        for stmt in mig.statements(database, cluster):
            store.command(stmt)
        store.command(_record(database, mig))
        applied.append(mig)
    return applied
