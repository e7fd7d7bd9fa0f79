-- One trace's rollup row (name, times, status, counts, tokens, cost) of one project.
SELECT *, toUnixTimestamp64Nano(start_time) AS start_ns, toUnixTimestamp64Nano(end_time) AS end_ns
FROM {db}.traces
WHERE project_id = %(p)s AND trace_id = %(t)s
