-- A span's name and start, if it was created (has a name).
SELECT name, toUnixTimestamp64Nano(start_time) AS start
FROM {db}.spans FINAL
WHERE project_id = %(p)s AND trace_id = %(t)s AND span_id = %(s)s
