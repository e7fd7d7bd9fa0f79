"""The migrations rendered for a ClickHouse cluster, checked statement by statement, and the
single-node rendering (what ``migrate --dry-run`` prints) run on the embedded engine."""
from __future__ import annotations

import re
import uuid

import pytest

from spanlens_pipeline.errors import ConfigError
from spanlens_pipeline.extensions.storage import schema
from spanlens_pipeline.extensions.storage.config import Config as StorageConfig

from ..support.running import REPO, run_cli

CLUSTER = "spanlens"
STATEMENTS = schema.render("spanlens", CLUSTER)
DDL = [s for s in STATEMENTS if not s.startswith("INSERT")]
TABLE_RE = re.compile(r"^CREATE TABLE IF NOT EXISTS spanlens\.(\w+) ")


def _tables() -> dict[str, str]:
    return {TABLE_RE.match(s).group(1): s for s in DDL if TABLE_RE.match(s)}


def test_every_ddl_statement_runs_on_the_cluster():
    assert DDL
    for stmt in DDL:
        first = stmt.split("(", 1)[0] if stmt.startswith("CREATE TABLE") else stmt.split(" AS", 1)[0]
        assert f"ON CLUSTER '{CLUSTER}'" in first, stmt[:120]


def test_every_merge_tree_is_replicated_with_the_macros():
    engines = [re.search(r"ENGINE = (\w+)\((.*?)\)\s*(ORDER|PARTITION|$)", s, re.S) for s in _tables().values()]
    merge_trees = [e for e in engines if e and "MergeTree" in e.group(1)]
    # schema_migrations, spans, trace_meta, requests, llm_calls, pending_ends, the four key store
    # tables and rate_limits
    assert len(merge_trees) == 11
    for e in merge_trees:
        assert e.group(1).startswith("Replicated"), e.group(0)
        assert "'{replica}'" in e.group(2)
    for name, stmt in _tables().items():
        if name.endswith("_local"):
            assert f"'/clickhouse/tables/{{shard}}/spanlens/{name}'" in stmt


def test_key_store_tables_are_whole_on_every_server():
    tables = _tables()
    for name in schema.WHOLE_ON_EVERY_SERVER:
        stmt = tables[name]
        assert f"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/spanlens/{name}', '{{replica}}', version)" \
            in stmt, stmt
        assert "{shard}" not in stmt and "Distributed" not in stmt
        assert f"{name}_local" not in tables  # no shard-local table, no Distributed twin
    assert schema.WHOLE_ON_EVERY_SERVER <= set(tables)


@pytest.mark.parametrize("table,engine", [("spans", "ReplicatedCoalescingMergeTree"),
                                          ("trace_meta", "ReplicatedCoalescingMergeTree"),
                                          ("requests", "ReplicatedReplacingMergeTree")])
def test_engine_matches_the_single_node_table(table, engine):
    local = _tables()[f"{table}_local"]
    assert f"ENGINE = {engine}(" in local
    if table == "requests":  # the version column stays the engine's last argument
        assert "'{replica}', ingested_at)" in local


def test_each_table_has_a_distributed_twin_sharded_by_trace():
    tables = _tables()
    locals_ = [n for n in tables if n.endswith("_local")]
    assert sorted(locals_) == ["llm_calls_local", "pending_ends_local", "requests_local", "spans_local",
                               "trace_meta_local"]
    for local in locals_:
        twin = tables[local.removesuffix("_local")]
        assert f"AS spanlens.{local}" in twin
        m = re.search(r"ENGINE = Distributed\('(\w+)', 'spanlens', '(\w+)', (.+)\)$", twin)
        assert m and m.group(1) == CLUSTER and m.group(2) == local
        assert "trace_id" in m.group(3) and "project_id" in m.group(3)
        # the twin is created after the local table it reads
        assert DDL.index(twin) > DDL.index(tables[local])


def test_indexes_go_to_local_tables_and_views_read_distributed_ones():
    alters = [s for s in DDL if s.startswith("ALTER")]
    assert alters and all(s.startswith("ALTER TABLE spanlens.spans_local ON CLUSTER") for s in alters)
    views = [s for s in DDL if s.startswith(("CREATE VIEW", "CREATE OR REPLACE VIEW"))]
    assert views and all("_local" not in v for v in views)
    assert any("FROM spanlens.spans FINAL" in v for v in views)


def test_rollups_read_and_write_the_shard_local_tables():
    mvs = [s for s in DDL if s.startswith("CREATE MATERIALIZED VIEW")]
    assert mvs
    for mv in mvs:
        head, body = mv.split(" AS", 1)
        assert f"ON CLUSTER '{CLUSTER}'" in head and head.rstrip().endswith("_local")
        assert re.findall(r"FROM spanlens\.(\w+)", body) and all(
            t.endswith("_local") for t in re.findall(r"FROM spanlens\.(\w+)", body))


def test_single_node_rendering_is_what_migrate_runs(store):
    db = f"dry_{uuid.uuid4().hex[:8]}"
    stmts = schema.render(db)
    assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in stmts)
    for stmt in stmts:
        store.command(stmt)
    assert schema.migrate(store, db) == []  # everything recorded: nothing left to apply
    names = {r["name"] for r in store.query(f"SELECT name FROM system.tables WHERE database = '{db}'")}
    assert {"spans", "trace_meta", "traces", "requests", "schema_migrations"} <= names
    store.command(f"DROP DATABASE {db}")


@pytest.mark.slow
def test_migrate_dry_run_prints_the_cluster_ddl():
    out = run_cli("migrate", "--dry-run", config=str(REPO / "config" / "cluster.yaml"),
                  env={"CLICKHOUSE_CLUSTER": "prod", "CLICKHOUSE_ENDPOINT": "http://127.0.0.1:1"})
    assert out.returncode == 0, out.stderr
    stmts = [s.strip() for s in out.stdout.split(";\n") if s.strip()]
    assert stmts == schema.render("spanlens", "prod")


def test_cluster_needs_a_server_and_a_plain_name():
    StorageConfig(endpoint="http://h:8123", cluster="main").validate("storage")
    StorageConfig(endpoint="http://h:8123", cluster="{cluster}").validate("storage")
    StorageConfig(endpoint="chdb:///tmp/x").validate("storage")
    with pytest.raises(ConfigError, match="needs a ClickHouse server"):
        StorageConfig(endpoint="chdb:///tmp/x", cluster="main").validate("storage")
    with pytest.raises(ConfigError, match="must be a cluster name"):
        StorageConfig(endpoint="http://h:8123", cluster="a' OR 1").validate("storage")


def test_ttl_on_a_cluster_goes_to_the_local_tables():
    import logging

    from spanlens_pipeline.component import Settings
    from spanlens_pipeline.extensions.storage import StorageExtension, queries

    def ext(cluster: str) -> StorageExtension:
        return StorageExtension(Settings("storage", logging.getLogger("storage")), StorageConfig(endpoint="http://h:8123", cluster=cluster))

    assert ext("").ttl_target("spans") == "spans"
    target = ext("prod").ttl_target("spans")
    assert target == "spans_local ON CLUSTER 'prod'"
    stmt = queries.text("set_ttl").replace("{table}", target)
    assert "ALTER TABLE {db}.spans_local ON CLUSTER 'prod' MODIFY TTL" in stmt
