-- The key store on a ClickHouse server or cluster (the keystore extension's clickhouse
-- backend): organizations, projects, Spanlens API keys (only their SHA-256 and a display
-- prefix) and provider keys (AES-256-GCM ciphertext only). Every change is a new row with a
-- higher version (nanoseconds), so a revoke is a newer row of the same id; read with FINAL.
-- Organization and project ids are derived from their names, so two replicas creating the
-- same project at once write the same row. On a cluster every server keeps a whole copy of
-- these small tables (no shard, no Distributed table): any server answers for every key.
CREATE TABLE IF NOT EXISTS {database}.organizations
(
    id          String,
    name        String,
    created_at  DateTime64(3, 'UTC'),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS {database}.projects
(
    id              String,
    organization_id String,
    name            String,
    created_at      DateTime64(3, 'UTC'),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS {database}.api_keys
(
    project_id  String,
    id          String,
    key_hash    String,
    key_prefix  String,
    scope       LowCardinality(String),
    name        String,
    created_at  DateTime64(3, 'UTC'),
    revoked_at  Nullable(DateTime64(3, 'UTC')),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, id);

CREATE TABLE IF NOT EXISTS {database}.provider_keys
(
    project_id      String,
    api_key_id      String,
    id              String,
    provider        LowCardinality(String),
    name            String,
    encrypted_key   String,
    resource_url    Nullable(String),
    created_at      DateTime64(3, 'UTC'),
    revoked_at      Nullable(DateTime64(3, 'UTC')),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, api_key_id, id);
