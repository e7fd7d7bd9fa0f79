-- Waiting "end span" records: an end that arrived before its span's create, so its trace
-- is not known yet. They live here, never in spans, so every sum over spans FINAL counts
-- each span once. Rows of one span merge column by column like spans (CoalescingMergeTree:
-- last non-NULL wins; flags and maps merge as unions). When the create arrives, the merged
-- end is copied into spans under its trace and a marker row sets resolved = true; a later
-- waiting end for the same span writes resolved = false again. Read with FINAL and
-- WHERE NOT resolved. trace_id is always '' here; it stays a column so the exporter writes
-- these rows like span rows.
CREATE TABLE IF NOT EXISTS {database}.pending_ends
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
    resolved            Nullable(Bool),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = CoalescingMergeTree
ORDER BY (project_id, trace_id, span_id);

-- Earlier versions kept waiting ends in spans under trace_id ''. Move them here; one whose
-- span is already stored under a real trace was copied there before, so it moves resolved.
INSERT INTO {database}.pending_ends
    (project_id, organization_id, trace_id, span_id, parent_span_id, name, kind, span_type, service_name,
     scope_name, scope_version, start_time, end_time, status_code, status_message, attributes,
     resource_attributes, events, links, input, output, metadata, source, provider, operation, request_model,
     response_model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
     total_tokens, cost_usd, reported_cost_usd, cost_source, session_id, user_id, request_id, flags, resolved)
SELECT project_id, organization_id, trace_id, span_id, parent_span_id, name, kind, span_type, service_name,
       scope_name, scope_version, start_time, end_time, status_code, status_message, attributes,
       resource_attributes, events, links, input, output, metadata, source, provider, operation, request_model,
       response_model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
       total_tokens, cost_usd, reported_cost_usd, cost_source, session_id, user_id, request_id, flags,
       (project_id, span_id) IN (SELECT project_id, span_id FROM {database}.spans WHERE trace_id != '')
FROM {database}.spans FINAL
WHERE trace_id = '';

ALTER TABLE {database}.spans DELETE WHERE trace_id = '' SETTINGS mutations_sync = 1;
