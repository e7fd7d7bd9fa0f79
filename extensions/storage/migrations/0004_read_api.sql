-- The read API's trace list needs who and what each trace is about: the traces view gains
-- user_id, session_id (any value its spans carry), the models and providers called, and
-- the cache and reasoning token sums. Same rules as 0002 otherwise.
CREATE OR REPLACE VIEW {database}.traces AS
SELECT
    project_id,
    trace_id,
    any(r_org) AS organization_id,
    coalesce(anyIf(r_name, is_trace), argMinIf(r_name, (has_parent, start_key), NOT is_trace AND r_name IS NOT NULL)) AS name,
    min(r_start) AS start_time,
    max(r_end) AS end_time,
    if(max(r_end) >= min(r_start), toInt64(dateDiff('ns', min(r_start), max(r_end))), NULL) AS duration_ns,
    multiIf(countIf(r_status = 'error') > 0, 'error',
            anyIf(r_status, is_trace) IS NOT NULL, anyIf(r_status, is_trace),
            countIf(NOT is_trace) > 0 AND countIf(NOT is_trace AND r_end IS NULL) = 0, 'completed',
            'running') AS status,
    coalesce(anyIf(r_error, is_trace),
             if(countIf(NOT is_trace AND r_status = 'error') > 0, 'One or more spans reported errors', NULL)) AS error_message,
    coalesce(anyIf(r_update_metadata, is_trace), anyIf(r_create_metadata, is_trace)) AS metadata,
    countIf(NOT is_trace) AS span_count,
    countIf(NOT is_trace AND r_status = 'error') AS error_count,
    coalesce(sum(r_input_tokens), 0) AS input_tokens,
    coalesce(sum(r_output_tokens), 0) AS output_tokens,
    coalesce(sum(r_total_tokens), 0) AS total_tokens,
    coalesce(sum(r_cache_read_tokens), 0) AS cache_read_tokens,
    coalesce(sum(r_cache_write_tokens), 0) AS cache_write_tokens,
    coalesce(sum(r_reasoning_tokens), 0) AS reasoning_tokens,
    sum(r_cost) AS total_cost_usd,
    any(r_user) AS user_id,
    any(r_session) AS session_id,
    arraySort(groupUniqArrayIf(r_model, r_model IS NOT NULL)) AS models,
    arraySort(groupUniqArrayIf(r_provider, r_provider IS NOT NULL)) AS providers
FROM
(
    SELECT project_id, trace_id, organization_id AS r_org, false AS is_trace, name AS r_name,
           parent_span_id IS NOT NULL AS has_parent,
           coalesce(start_time, toDateTime64('2262-01-01 00:00:00', 9, 'UTC')) AS start_key,
           start_time AS r_start, end_time AS r_end, status_code AS r_status,
           CAST(NULL, 'Nullable(String)') AS r_error,
           CAST(NULL, 'Nullable(String)') AS r_create_metadata, CAST(NULL, 'Nullable(String)') AS r_update_metadata,
           -- Usage counts once per model call (see 0002): OTLP wrapper spans add no tokens.
           source = 'otlp' AND ifNull(span_type, 'custom') NOT IN ('llm', 'embedding') AS r_wrapper,
           if(r_wrapper, NULL, input_tokens) AS r_input_tokens,
           if(r_wrapper, NULL, output_tokens) AS r_output_tokens,
           if(r_wrapper, NULL,
              coalesce(total_tokens, if(input_tokens IS NULL AND output_tokens IS NULL, NULL,
                                        coalesce(input_tokens, 0) + coalesce(output_tokens, 0)))) AS r_total_tokens,
           if(r_wrapper, NULL, cache_read_tokens) AS r_cache_read_tokens,
           if(r_wrapper, NULL, cache_write_tokens) AS r_cache_write_tokens,
           if(r_wrapper, NULL, reasoning_tokens) AS r_reasoning_tokens,
           coalesce(cost_usd, reported_cost_usd) AS r_cost,
           user_id AS r_user, session_id AS r_session,
           CAST(coalesce(response_model, request_model), 'Nullable(String)') AS r_model,
           CAST(provider, 'Nullable(String)') AS r_provider
    FROM {database}.spans FINAL
    WHERE trace_id != ''
    UNION ALL
    SELECT project_id, trace_id, organization_id, true, name, false,
           coalesce(start_time, toDateTime64('2262-01-01 00:00:00', 9, 'UTC')),
           start_time, end_time, status, error_message, create_metadata, update_metadata, false,
           CAST(NULL, 'Nullable(Int64)'), CAST(NULL, 'Nullable(Int64)'), CAST(NULL, 'Nullable(Int64)'),
           CAST(NULL, 'Nullable(Int64)'), CAST(NULL, 'Nullable(Int64)'), CAST(NULL, 'Nullable(Int64)'),
           CAST(NULL, 'Nullable(Decimal(18, 12))'),
           CAST(NULL, 'Nullable(String)'), CAST(NULL, 'Nullable(String)'),
           CAST(NULL, 'Nullable(String)'), CAST(NULL, 'Nullable(String)')
    FROM {database}.trace_meta FINAL
)
GROUP BY project_id, trace_id;

-- Usage rollup: one row per model call, keyed by span id, for the stats queries. A
-- materialized view sees insert blocks, not merged rows, so it takes only records that are
-- complete on their own (start, end and model in the same record: OTLP llm/embedding spans
-- and proxied calls). Re-exporting a span inserts the same key again; ReplacingMergeTree
-- keeps one row per key (the newest), and stats read it with FINAL, so a re-export counts
-- once. Partial records (an "end" alone, a parent link) never enter.
CREATE TABLE IF NOT EXISTS {database}.llm_calls
(
    project_id          LowCardinality(String),
    organization_id     LowCardinality(String),
    hour                DateTime('UTC'),
    trace_id            String CODEC(ZSTD(1)),
    span_id             String CODEC(ZSTD(1)),
    start_time          DateTime64(9, 'UTC') CODEC(ZSTD(1)),
    source              LowCardinality(String),
    provider            LowCardinality(String),
    model               LowCardinality(String),
    user_id             Nullable(String) CODEC(ZSTD(1)),
    session_id          Nullable(String) CODEC(ZSTD(1)),
    input_tokens        Int64,
    output_tokens       Int64,
    cache_read_tokens   Int64,
    cache_write_tokens  Int64,
    reasoning_tokens    Int64,
    total_tokens        Int64,
    cost_usd            Nullable(Decimal(18, 12)),
    is_error            UInt8,
    duration_ms         Float64,
    ingested_at         DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, trace_id, span_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.llm_calls_mv TO {database}.llm_calls AS
SELECT project_id, organization_id, toStartOfHour(assumeNotNull(start_time)) AS hour, trace_id, span_id,
       assumeNotNull(start_time) AS start_time, ifNull(source, '') AS source, ifNull(provider, '') AS provider,
       ifNull(coalesce(response_model, request_model), '') AS model, user_id, session_id,
       ifNull(input_tokens, 0) AS input_tokens, ifNull(output_tokens, 0) AS output_tokens,
       ifNull(cache_read_tokens, 0) AS cache_read_tokens, ifNull(cache_write_tokens, 0) AS cache_write_tokens,
       ifNull(reasoning_tokens, 0) AS reasoning_tokens,
       ifNull(coalesce(total_tokens, if(input_tokens IS NULL AND output_tokens IS NULL, NULL,
                                        coalesce(input_tokens, 0) + coalesce(output_tokens, 0))), 0) AS total_tokens,
       coalesce(cost_usd, reported_cost_usd) AS cost_usd, ifNull(status_code = 'error', 0) AS is_error,
       greatest(dateDiff('ns', assumeNotNull(start_time), assumeNotNull(end_time)), 0) / 1e6 AS duration_ms,
       ingested_at
FROM {database}.spans
WHERE trace_id != '' AND start_time IS NOT NULL AND end_time IS NOT NULL
  AND coalesce(response_model, request_model) IS NOT NULL
  AND (source != 'otlp' OR span_type IN ('llm', 'embedding'));

-- Calls stored before this migration.
INSERT INTO {database}.llm_calls
SELECT project_id, organization_id, toStartOfHour(assumeNotNull(start_time)), trace_id, span_id,
       assumeNotNull(start_time), ifNull(source, ''), ifNull(provider, ''),
       ifNull(coalesce(response_model, request_model), ''), user_id, session_id,
       ifNull(input_tokens, 0), ifNull(output_tokens, 0), ifNull(cache_read_tokens, 0),
       ifNull(cache_write_tokens, 0), ifNull(reasoning_tokens, 0),
       ifNull(coalesce(total_tokens, if(input_tokens IS NULL AND output_tokens IS NULL, NULL,
                                        coalesce(input_tokens, 0) + coalesce(output_tokens, 0))), 0),
       coalesce(cost_usd, reported_cost_usd), ifNull(status_code = 'error', 0),
       greatest(dateDiff('ns', assumeNotNull(start_time), assumeNotNull(end_time)), 0) / 1e6, ingested_at
FROM {database}.spans FINAL
WHERE trace_id != '' AND start_time IS NOT NULL AND end_time IS NOT NULL
  AND coalesce(response_model, request_model) IS NOT NULL
  AND (source != 'otlp' OR span_type IN ('llm', 'embedding'))
