-- One row per span. Receivers may send a span in parts (create, then end; or the
-- reverse); CoalescingMergeTree folds rows with the same (project_id, trace_id, span_id)
-- into one, keeping for each column the last non-NULL value written. Maps and flags cannot
-- be NULL, so they merge as unions instead (a part that has none keeps the others'). Read
-- with FINAL.
CREATE TABLE IF NOT EXISTS {database}.spans
(
    project_id          LowCardinality(String),
    organization_id     LowCardinality(String),
    trace_id            String CODEC(ZSTD(1)),
    span_id             String CODEC(ZSTD(1)),
    parent_span_id      Nullable(String) CODEC(ZSTD(1)),
    name                Nullable(String) CODEC(ZSTD(1)),
    kind                LowCardinality(Nullable(String)),
    span_type           LowCardinality(Nullable(String)),
    service_name        LowCardinality(Nullable(String)),
    scope_name          Nullable(String) CODEC(ZSTD(1)),
    scope_version       Nullable(String) CODEC(ZSTD(1)),
    start_time          Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    end_time            Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    duration_ns         Nullable(Int64) ALIAS if(end_time >= start_time, toInt64(dateDiff('ns', start_time, end_time)), NULL),
    status_code         LowCardinality(Nullable(String)),
    status_message      Nullable(String) CODEC(ZSTD(1)),
    attributes          SimpleAggregateFunction(maxMap, Map(String, String)) CODEC(ZSTD(1)),
    resource_attributes SimpleAggregateFunction(maxMap, Map(String, String)) CODEC(ZSTD(1)),
    events              Nullable(String) CODEC(ZSTD(3)),
    links               Nullable(String) CODEC(ZSTD(3)),
    input               Nullable(String) CODEC(ZSTD(3)),
    output              Nullable(String) CODEC(ZSTD(3)),
    metadata            Nullable(String) CODEC(ZSTD(3)),
    source              LowCardinality(Nullable(String)),
    provider            LowCardinality(Nullable(String)),
    operation           LowCardinality(Nullable(String)),
    request_model       LowCardinality(Nullable(String)),
    response_model      LowCardinality(Nullable(String)),
    input_tokens        Nullable(Int64),
    output_tokens       Nullable(Int64),
    cache_read_tokens   Nullable(Int64),
    cache_write_tokens  Nullable(Int64),
    reasoning_tokens    Nullable(Int64),
    total_tokens        Nullable(Int64),
    cost_usd            Nullable(Decimal(18, 12)),
    reported_cost_usd   Nullable(Decimal(18, 12)),
    cost_source         LowCardinality(Nullable(String)),
    session_id          Nullable(String) CODEC(ZSTD(1)),
    user_id             Nullable(String) CODEC(ZSTD(1)),
    request_id          Nullable(String) CODEC(ZSTD(1)),
    flags               SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = CoalescingMergeTree
ORDER BY (project_id, trace_id, span_id)
-- Small granules: reading one trace (a FINAL point lookup in every part) touches 1024 rows
-- per part instead of 8192.
SETTINGS index_granularity = 1024
