-- A native-SDK trace's name and start, if it was created.
SELECT name, toUnixTimestamp64Nano(start_time) AS start
FROM {db}.trace_meta FINAL
WHERE project_id = %(p)s AND trace_id = %(t)s
