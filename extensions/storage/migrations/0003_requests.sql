-- One row per proxied call: the request log. The row id is the call's X-Request-Id;
-- re-exporting a row (same id and created_at) replaces it, so writes are idempotent.
-- Read with FINAL. Token columns follow the spans table: prompt_tokens is gross
-- (cache reads and writes included), completion_tokens includes reasoning.
CREATE TABLE IF NOT EXISTS {database}.requests
(
    id                  String,
    created_at          DateTime64(3, 'UTC'),
    organization_id     LowCardinality(String),
    project_id          LowCardinality(String),
    api_key_id          String,
    provider_key_id     Nullable(String),
    provider            LowCardinality(String),
    model               LowCardinality(String),
    method              LowCardinality(String),
    path                String CODEC(ZSTD(1)),
    status_code         UInt16,
    streamed            Bool,
    prompt_tokens       Nullable(Int64),
    completion_tokens   Nullable(Int64),
    total_tokens        Nullable(Int64),
    cache_read_tokens   Nullable(Int64),
    cache_write_tokens  Nullable(Int64),
    reasoning_tokens    Nullable(Int64),
    cost_usd            Nullable(Decimal(18, 12)),
    reported_cost_usd   Nullable(Decimal(18, 12)),
    latency_ms          Float64,
    proxy_overhead_ms   Float64,
    duration_ms         Float64,
    truncated           Bool,
    service_tier        LowCardinality(String),
    request_body        String CODEC(ZSTD(3)),
    response_body       String CODEC(ZSTD(3)),
    error_message       Nullable(String) CODEC(ZSTD(1)),
    trace_id            String CODEC(ZSTD(1)),
    span_id             String CODEC(ZSTD(1)),
    parent_span_id      Nullable(String) CODEC(ZSTD(1)),
    user_id             Nullable(String) CODEC(ZSTD(1)),
    session_id          Nullable(String) CODEC(ZSTD(1)),
    flags               Array(LowCardinality(String)),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, created_at, id)
