-- The trace list, newest first: one page of the traces view. {where} is the API's filter
-- (tenant, time range, status, name…, and the cursor), built from bound parameters.
SELECT project_id, trace_id, name, status, toUnixTimestamp64Nano(start_time) AS start_ns,
       toUnixTimestamp64Nano(end_time) AS end_ns, duration_ns, span_count, error_count, input_tokens,
       output_tokens, total_tokens, total_cost_usd, user_id, session_id, models,
       ifNull(toUnixTimestamp64Nano(start_time), 0) AS sort_ns
FROM {db}.traces
WHERE {where}
ORDER BY sort_ns DESC, trace_id DESC
LIMIT %(limit)s
