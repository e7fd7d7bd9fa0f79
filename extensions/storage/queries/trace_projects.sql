-- The projects that hold a trace id (the CLI asks, to know whether --project is needed).
SELECT DISTINCT project_id FROM {db}.traces WHERE trace_id = %(t)s
