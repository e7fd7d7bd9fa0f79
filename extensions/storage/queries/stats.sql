-- Usage per key from the llm_calls rollup, FINAL so a re-exported call counts once.
-- %(by)s and %(by2)s (second key, or '') are model, provider, project, user, session, day
-- or hour. {where}: tenant and filters.
SELECT multiIf(%(by)s = 'model', model, %(by)s = 'provider', provider, %(by)s = 'project', project_id,
               %(by)s = 'user', ifNull(user_id, ''), %(by)s = 'session', ifNull(session_id, ''),
               %(by)s = 'day', toString(toDate(hour)),
               %(by)s = 'hour', formatDateTime(hour, '%%Y-%%m-%%dT%%H:00:00Z'), '') AS key,
       multiIf(%(by2)s = 'model', model, %(by2)s = 'provider', provider, %(by2)s = 'project', project_id,
               %(by2)s = 'user', ifNull(user_id, ''), %(by2)s = 'session', ifNull(session_id, ''),
               %(by2)s = 'day', toString(toDate(hour)),
               %(by2)s = 'hour', formatDateTime(hour, '%%Y-%%m-%%dT%%H:00:00Z'), '') AS key2,
       count() AS calls, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens,
       sum(reasoning_tokens) AS reasoning_tokens, sum(total_tokens) AS total_tokens, sum(cost_usd) AS cost_usd,
       sum(is_error) AS errors, quantilesExact(0.5, 0.95)(duration_ms) AS latency
FROM {db}.llm_calls FINAL
WHERE {where}
GROUP BY key, key2
ORDER BY key, key2
