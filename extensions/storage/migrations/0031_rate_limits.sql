-- Runtime rate limits (`spanlens-pipeline limits`) on a ClickHouse server or cluster, shared by
-- every replica (the ratelimit extension with the keystore's clickhouse backend). One row per
-- limit and change: setting a limit again or removing it writes a newer row of the same
-- selectors with a higher version (nanoseconds); a removal has removed = 1. Read with FINAL.
-- Like the key store tables, every server of a cluster keeps a whole copy.
CREATE TABLE IF NOT EXISTS {database}.rate_limits
(
    scope           LowCardinality(String),
    api_key_id      String,
    project_id      String,
    end_user        String,
    requests        UInt32,
    window_seconds  UInt32,
    removed         UInt8,
    updated_at      DateTime64(3, 'UTC'),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (scope, api_key_id, project_id, end_user);
