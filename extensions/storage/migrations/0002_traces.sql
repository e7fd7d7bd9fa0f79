-- Trace-level facts sent by native SDKs ("create trace": name, start, metadata; "end
-- trace": status, end, error message, metadata). Like spans, rows of one trace merge
-- column by column (CoalescingMergeTree: last non-NULL wins). Metadata from creation and
-- from updates live in separate columns, so the result never depends on arrival order.
CREATE TABLE IF NOT EXISTS {database}.trace_meta
(
    project_id          LowCardinality(String),
    organization_id     LowCardinality(String),
    trace_id            String CODEC(ZSTD(1)),
    name                Nullable(String) CODEC(ZSTD(1)),
    start_time          Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    end_time            Nullable(DateTime64(9, 'UTC')) CODEC(ZSTD(1)),
    status              LowCardinality(Nullable(String)),
    error_message       Nullable(String) CODEC(ZSTD(1)),
    create_metadata     Nullable(String) CODEC(ZSTD(3)),
    update_metadata     Nullable(String) CODEC(ZSTD(3)),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = CoalescingMergeTree
ORDER BY (project_id, trace_id);

-- An "end span" call names only the span. Until the span's trace is known, its row waits
-- under trace_id '' and is found by span id; this index keeps that look-up cheap.
ALTER TABLE {database}.spans ADD INDEX IF NOT EXISTS span_id_bloom span_id TYPE bloom_filter(0.01) GRANULARITY 4;

-- One row per trace, computed at read time from spans FINAL and trace_meta FINAL, so it
-- is exact under any arrival order and under duplicates (a re-exported span is one row).
-- Filter by project_id and trace_id: both are grouping keys, so the filter reaches the
-- tables' sort keys.
CREATE VIEW IF NOT EXISTS {database}.traces AS
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
    sum(r_cost) AS total_cost_usd
FROM
(
    SELECT project_id, trace_id, organization_id AS r_org, false AS is_trace, name AS r_name,
           parent_span_id IS NOT NULL AS has_parent,
           coalesce(start_time, toDateTime64('2262-01-01 00:00:00', 9, 'UTC')) AS start_key,
           start_time AS r_start, end_time AS r_end, status_code AS r_status,
           CAST(NULL, 'Nullable(String)') AS r_error,
           CAST(NULL, 'Nullable(String)') AS r_create_metadata, CAST(NULL, 'Nullable(String)') AS r_update_metadata,
           -- Usage counts once per model call: OTLP wrapper spans (agents, chains, workflows) often
           -- repeat their children's usage attributes, so only llm/embedding OTLP spans add tokens.
           if(source = 'otlp' AND ifNull(span_type, 'custom') NOT IN ('llm', 'embedding'), NULL, input_tokens)
               AS r_input_tokens,
           if(source = 'otlp' AND ifNull(span_type, 'custom') NOT IN ('llm', 'embedding'), NULL, output_tokens)
               AS r_output_tokens,
           if(source = 'otlp' AND ifNull(span_type, 'custom') NOT IN ('llm', 'embedding'), NULL,
              coalesce(total_tokens, if(input_tokens IS NULL AND output_tokens IS NULL, NULL,
                                        coalesce(input_tokens, 0) + coalesce(output_tokens, 0)))) AS r_total_tokens,
           coalesce(cost_usd, reported_cost_usd) AS r_cost
    FROM {database}.spans FINAL
    WHERE trace_id != ''
    UNION ALL
    SELECT project_id, trace_id, organization_id, true, name, false,
           coalesce(start_time, toDateTime64('2262-01-01 00:00:00', 9, 'UTC')),
           start_time, end_time, status, error_message, create_metadata, update_metadata,
           CAST(NULL, 'Nullable(Int64)'), CAST(NULL, 'Nullable(Int64)'), CAST(NULL, 'Nullable(Int64)'),
           CAST(NULL, 'Nullable(Decimal(18, 12))')
    FROM {database}.trace_meta FINAL
)
GROUP BY project_id, trace_id
