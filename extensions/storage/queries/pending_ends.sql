-- Every waiting "end span" record (its trace not known yet), once at start.
SELECT project_id, span_id FROM {db}.spans FINAL WHERE trace_id = ''
