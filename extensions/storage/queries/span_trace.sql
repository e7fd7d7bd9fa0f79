-- The trace a span is stored under (a waiting end, trace_id = '', does not count).
SELECT trace_id FROM {db}.spans
WHERE project_id = %(p)s AND span_id = %(s)s AND trace_id != ''
LIMIT 1
