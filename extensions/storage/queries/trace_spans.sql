-- Every span of one trace of one project, merged (FINAL), for the trace tree.
SELECT span_id, parent_span_id, name, span_type, kind, source, service_name, status_code,
       status_message, toUnixTimestamp64Nano(start_time) AS start_ns, toUnixTimestamp64Nano(end_time) AS end_ns,
       duration_ns, input, output, metadata, provider, request_model, response_model, input_tokens,
       output_tokens, total_tokens, cost_usd, reported_cost_usd, cost_source, request_id, flags,
       cache_read_tokens, cache_write_tokens, reasoning_tokens, attributes
FROM {db}.spans FINAL
WHERE project_id = %(p)s AND trace_id = %(t)s
