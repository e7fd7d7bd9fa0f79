"""Runtime limits in the shared ClickHouse table (migration 0031) on the embedded engine (the same
SQL a server runs): two key stores on one database behave as two replicas."""
from __future__ import annotations

import uuid

import pytest

from spanlens_pipeline.confschema import decode
from spanlens_pipeline.errors import StoreError
from spanlens_pipeline.extensions.keystore import ClickHouseKeyStore
from spanlens_pipeline.extensions.ratelimit import Config, Limiter
from spanlens_pipeline.extensions.ratelimit.rules import SharedLimits, SqliteLimits, runtime_limits
from spanlens_pipeline.extensions.storage import schema

from .helpers import Clock, denied


@pytest.fixture
def pair(replica_keystores):
    return replica_keystores


def replica_limiter(ks: ClickHouseKeyStore, clock: Clock) -> Limiter:
    """A limiter wired to a shared key store as the extension wires it."""
    lim = Limiter(decode(Config, {"default_plan": "enterprise",
                                  "limits": [{"scope": "api_key", "requests": 100, "window": "60s"}]},
                         "extensions::ratelimit"), mono=clock.mono, wall=clock.wall)
    lim.organizations, lim.org_generation = ks.organization_names, ks.refresh
    lim.runtime = SharedLimits(ks).active
    lim.reload()
    return lim


def test_a_limit_set_on_one_replica_holds_on_the_other_after_a_reload(pair):
    a, b = pair
    _, info = a.create_key("shop")
    b.reload()
    clock = Clock()
    lim = replica_limiter(b, clock)
    tenant = info.tenant()
    assert lim.check(tenant)["X-RateLimit-Limit"] == "100"  # the config's limit
    SharedLimits(a).set("api_key", info.id, "", "", 2, 60)
    assert lim.check(tenant)["X-RateLimit-Limit"] == "100"  # b has not re-read yet
    b.reload()
    err = denied(lim, tenant)  # the next check sees the new generation; the two calls made still count
    assert err.details == {"source": "customer_limit", "scope": "api_key", "limit": 2, "window_seconds": 60}


def test_a_removal_is_a_newer_row_and_stops_applying(pair, store):
    a, b = pair
    _, info = a.create_key("shop")
    limits_a = SharedLimits(a)
    limits_a.set("api_key", info.id, "", "", 1, 60)
    b.reload()
    lim = replica_limiter(b, Clock())
    lim.check(info.tenant())
    denied(lim, info.tenant())
    assert limits_a.clear(info.id, info.project_id, None, None) == 1
    assert limits_a.active() == []  # the writer sees its removal at once
    b.reload()
    assert lim.check(info.tenant())["X-RateLimit-Limit"] == "100"
    raw = store.query(f"SELECT removed, version FROM {a.database}.rate_limits ORDER BY version")
    assert [r["removed"] for r in raw] == [0, 1] and raw[0]["version"] < raw[1]["version"]
    final = store.query(f"SELECT removed FROM {a.database}.rate_limits FINAL")
    assert [r["removed"] for r in final] == [1]
    # set again after the removal: a newer row still, in force again
    limits_a.set("api_key", info.id, "", "", 3, 10)
    b.reload()
    assert [(r["requests"], r["window_seconds"]) for r in SharedLimits(b).active()] == [(3, 10)]


def test_clear_selects_like_the_sqlite_table(pair):
    a, _ = pair
    _, k1 = a.create_key("shop")
    _, k2 = a.create_key("shop")
    _, other = a.create_key("billing")
    lim = SharedLimits(a)
    lim.set("api_key", k1.id, "", "", 5, 60)
    lim.set("end_user", k1.id, "", "bob", 1, 30)
    lim.set("end_user", k1.id, "", "", 10, 30)
    lim.set("project", "", k1.project_id, "", 50, 10)
    lim.set("api_key", k2.id, "", "", 7, 60)
    lim.set("project", "", other.project_id, "", 9, 10)
    assert lim.clear(k1.id, k1.project_id, "end_user", "bob") == 1
    assert lim.clear(k1.id, k1.project_id, "end_user", "bob") == 0  # already removed
    assert lim.clear(k1.id, k1.project_id, None, None) == 3  # its own and its project's
    left = sorted((r["scope"], r["requests"]) for r in lim.active())
    assert left == [("api_key", 7), ("project", 9)]
    assert lim.clear(None, None, None, None) == 2  # --all
    assert lim.active() == []


def test_the_listing_names_key_prefixes_and_projects(pair):
    a, b = pair
    _, info = a.create_key("shop")
    lim = SharedLimits(a)
    lim.set("api_key", info.id, "", "", 5, 60)
    lim.set("project", "", info.project_id, "", 50, 10)
    b.reload()
    rows = {r["scope"]: (r["key_prefix"], r["project_name"]) for r in runtime_limits(b).listing()}
    assert rows == {"api_key": (info.prefix, "shop"), "project": (None, "shop")}


def test_setting_a_limit_again_replaces_it(pair):
    a, b = pair
    _, info = a.create_key("shop")
    SharedLimits(a).set("api_key", info.id, "", "", 5, 60)
    b.reload()
    SharedLimits(b).set("api_key", info.id, "", "", 8, 30)  # another replica's CLI
    a.reload()
    assert [(r["requests"], r["window_seconds"]) for r in SharedLimits(a).active()] == [(8, 30)]


def test_an_unchanged_table_keeps_the_generation(pair):
    a, b = pair
    _, info = a.create_key("shop")
    SharedLimits(b)
    b.reload()
    generation = b.generation
    b.reload()
    assert b.generation == generation
    SharedLimits(a).set("api_key", info.id, "", "", 5, 60)
    b.reload()
    assert b.generation > generation


def test_a_missing_table_is_refused_and_keys_keep_working(store, tmp_path):
    db = f"rl_{uuid.uuid4().hex[:8]}"
    schema.migrate(store, db)
    store.command(f"DROP TABLE {db}.rate_limits")  # as if migration 0031 was never applied
    ks = ClickHouseKeyStore(store, db, str(tmp_path / "k.db"))
    try:
        raw, _ = ks.create_key("shop")
        with pytest.raises(StoreError):
            SharedLimits(ks)
        assert "rate_limits" not in ks.tables
        ks.reload()
        assert ks.authenticate(raw) is not None
    finally:
        ks.close()
        store.command(f"DROP DATABASE {db}")


def test_the_embedded_default_keeps_sqlite(tmp_path):
    from spanlens_pipeline.extensions.keystore import KeyStore

    ks = KeyStore(str(tmp_path / "k.db"))
    try:
        assert isinstance(runtime_limits(ks), SqliteLimits)
    finally:
        ks.close()
