-- Sessions (traces grouped by session_id), most recently seen first. {where}: tenant and
-- trace filters; {having}: time range and cursor on the session's last activity.
SELECT session_id, toUnixTimestamp64Nano(min(start_time)) AS first_ns,
       toUnixTimestamp64Nano(max(coalesce(end_time, start_time))) AS last_ns, count() AS trace_count,
       any(user_id) AS user_id, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(total_tokens) AS total_tokens, sum(total_cost_usd) AS total_cost_usd,
       ifNull(last_ns, 0) AS sort_ns
FROM {db}.traces
WHERE session_id IS NOT NULL AND {where}
GROUP BY session_id
HAVING {having}
ORDER BY sort_ns DESC, session_id DESC
LIMIT %(limit)s
