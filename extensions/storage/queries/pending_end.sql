-- The merged waiting "end" of one span, to copy under its trace once the trace is known
-- (none once resolved).
SELECT status_code, status_message, toUnixTimestamp64Nano(end_time) AS end_time, output,
       metadata, input_tokens, output_tokens, total_tokens, reported_cost_usd, cost_source, request_id, flags
FROM {db}.pending_ends FINAL
WHERE project_id = %(p)s AND trace_id = '' AND span_id = %(s)s AND NOT ifNull(resolved, false)
