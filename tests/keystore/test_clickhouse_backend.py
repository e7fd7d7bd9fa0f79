"""The keystore's clickhouse backend on a real ClickHouse engine (the embedded one: the same
SQL a server runs): two stores on one database behave as two replicas."""
from __future__ import annotations

import logging

import pytest

from spanlens_pipeline.component import Settings
from spanlens_pipeline.errors import ConfigError, KeyStoreError
from spanlens_pipeline.extensions.keystore import Config, KeystoreExtension, ProviderKeys
from spanlens_pipeline.extensions.storage import StorageExtension
from spanlens_pipeline.extensions.storage.config import Config as StorageConfig


@pytest.fixture
def pair(replica_keystores):
    return replica_keystores


def test_a_key_created_on_one_replica_works_on_the_other_after_a_reload(pair):
    a, b = pair
    raw, info = a.create_key("shop", name="ci")
    assert a.authenticate(raw) == info.tenant()  # the writer sees it at once
    assert b.authenticate(raw) is None  # the other replica until its next refresh
    b.reload()
    tenant = b.authenticate(raw)
    assert tenant is not None and tenant.project_id == info.project_id and tenant.key_prefix == info.prefix
    assert b.find_key(info.prefix) == info and b.list_keys() == [info]


def test_a_revoke_is_a_newer_row_and_holds_on_both(pair, store):
    a, b = pair
    raw, info = a.create_key("shop")
    b.reload()
    generation = b.generation
    revoked = b.revoke(info.prefix)
    assert revoked.revoked_at is not None and b.authenticate(raw) is None
    assert a.authenticate(raw) is not None
    a.reload()
    assert a.authenticate(raw) is None and a.key(info.id).revoked_at is not None
    assert b.generation > generation
    rows = store.query(f"SELECT count() AS n FROM {a.database}.api_keys")  # both versions are rows
    assert rows[0]["n"] >= 1
    with pytest.raises(KeyStoreError, match="no active key"):
        a.find_key(info.prefix)


def test_only_hashes_are_stored(pair, store):
    a, _ = pair
    raw, _ = a.create_key("shop")
    dump = str(store.query(f"SELECT * FROM {a.database}.api_keys"))
    assert raw not in dump and raw[len("sl_live_"):] not in dump


def test_the_same_project_created_on_both_replicas_is_one_project(pair):
    a, b = pair
    _, ka = a.create_key("billing")
    _, kb = b.create_key("billing")  # b had not seen a's project yet
    assert ka.project_id == kb.project_id and ka.organization_id == kb.organization_id
    a.reload()
    assert a.project_ids(ka.organization_id) == [ka.project_id]
    assert a.project("billing", create=False) == (ka.organization_id, ka.project_id)
    with pytest.raises(KeyStoreError, match="no project named"):
        a.project("nope", create=False)


def test_provider_keys_replace_and_revoke_across_replicas(pair):
    a, b = pair
    _, info = a.create_key("shop")
    b.reload()
    pa, pb = ProviderKeys(a), ProviderKeys(b)
    first = pa.add(info.id, "openai", "cipher-1")
    assert pa.cached_active(info.id, "openai")[0] == first
    second = pb.add(info.id, "openai", "cipher-2")  # b had not seen the first one: still replaces it once read
    a.reload()
    active, _ = pa.cached_active(info.id, "openai")
    assert active is not None and active.id == second.id and active.encrypted_key == "cipher-2"
    assert pa.providers(info.id) == ["openai"]
    revoked = pa.revoke(info.id, "openai")
    assert revoked.revoked_at is not None and pa.cached_active(info.id, "openai")[0] is None
    b.reload()
    assert pb.cached_active(info.id, "openai")[0] is None
    assert [k.id for k in pb.list(info.id)] == [first.id, second.id]
    az = pb.add(info.id, "azure", "cipher-3", resource_url="https://x.openai.azure.com/some/path")
    assert az.resource_url == "https://x.openai.azure.com"


def test_other_components_keep_local_tables_beside_it(pair):
    a, _ = pair
    a.ensure_schema("extra", ["CREATE TABLE extra (x INTEGER)"])
    a.db.execute("INSERT INTO extra VALUES (1)")
    assert a.db.execute("SELECT x FROM extra").fetchall()[0][0] == 1


def _ext(**cfg) -> KeystoreExtension:
    return KeystoreExtension(Settings("keystore", logging.getLogger("keystore")), Config(**cfg))


def _storage(endpoint: str) -> StorageExtension:
    return StorageExtension(Settings("storage", logging.getLogger("storage")), StorageConfig(endpoint=endpoint))


def test_the_backend_follows_the_storage_endpoint():
    server, embedded = _storage("http://h:8123"), _storage("chdb:///tmp/x")
    assert _ext().backend(server) == "clickhouse"
    assert _ext().backend(embedded) == "sqlite"
    assert _ext().backend(None) == "sqlite"
    assert _ext(backend="sqlite").backend(server) == "sqlite"
    assert _ext(backend="clickhouse").backend(server) == "clickhouse"
    with pytest.raises(ConfigError, match="needs the storage extension") as info:
        _ext(backend="clickhouse").backend(embedded)
    assert info.value.path == "extensions::keystore::backend"


@pytest.mark.parametrize("settings,path", [({"backend": "redis"}, "extensions::keystore::backend"),
                                            ({"refresh_interval": "10ms"}, "extensions::keystore::refresh_interval"),
                                            ({"storage": ""}, "extensions::keystore::storage")])
def test_bad_settings_name_their_yaml_path(settings, path):
    from spanlens_pipeline.confschema import decode
    with pytest.raises(ConfigError) as info:
        decode(Config, settings, "extensions::keystore").validate("extensions::keystore")
    assert info.value.path == path


def test_rate_limit_plans_by_organization_name_follow_the_shared_store(pair):
    from spanlens_pipeline.confschema import decode
    from spanlens_pipeline.extensions.ratelimit import Config as LimitConfig
    from spanlens_pipeline.extensions.ratelimit import Limiter

    a, b = pair
    cfg = decode(LimitConfig, {"default_plan": "enterprise", "organizations": {"acme": {"plan": "team"}}}, "ratelimit")
    limiter = Limiter(cfg)
    limiter.organizations, limiter.org_generation = b.organization_names, b.refresh
    limiter.reload()
    _, info = a.create_key("shop", organization="acme")  # written by another replica
    assert limiter.policy(info.organization_id).plan_name == "enterprise"  # not known here yet
    b.reload()
    limiter.check(info.tenant())  # the next call notices the new generation and re-reads the names
    assert limiter.policy(info.organization_id).plan_name == "team"


def test_a_reload_without_changes_keeps_the_generation(pair):
    a, b = pair
    a.create_key("shop")
    b.reload()
    generation = b.generation
    b.reload()
    assert b.generation == generation  # provider-key caches stay warm
    a.create_key("shop")
    b.reload()
    assert b.generation > generation and len(b.list_keys()) == 2
