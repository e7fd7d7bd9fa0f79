-- One proxied call with its bodies. {where}: tenant.
SELECT id, project_id, toUnixTimestamp64Nano(created_at) AS created_ns, api_key_id, provider_key_id, provider,
       model, method, path, status_code, streamed, prompt_tokens, completion_tokens, total_tokens,
       cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, reported_cost_usd, latency_ms,
       proxy_overhead_ms, duration_ms, truncated, service_tier, request_body, response_body, error_message,
       trace_id, span_id, parent_span_id, user_id, session_id, flags
FROM {db}.requests FINAL
WHERE {where} AND id = %(id)s
LIMIT 1
