-- Usage per key (%(by)s: model, provider, project, user, session, day or hour) from the
-- llm_calls rollup, FINAL so a re-exported call counts once. {where}: tenant and filters.
SELECT multiIf(%(by)s = 'model', model, %(by)s = 'provider', provider, %(by)s = 'project', project_id,
               %(by)s = 'user', ifNull(user_id, ''), %(by)s = 'session', ifNull(session_id, ''),
               %(by)s = 'day', toString(toDate(hour)), formatDateTime(hour, '%%Y-%%m-%%dT%%H:00:00Z')) AS key,
       count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
       sum(reasoning_tokens) AS reasoning_tokens, sum(total_tokens) AS total_tokens, sum(cost_usd) AS cost_usd,
       sum(is_error) AS errors, quantilesExact(0.5, 0.95)(duration_ms) AS latency
FROM {db}.llm_calls FINAL
WHERE {where}
GROUP BY key
ORDER BY key
