-- Every waiting "end span" record not yet resolved (its trace not known yet), once at start.
SELECT project_id, span_id FROM {db}.pending_ends FINAL WHERE NOT ifNull(resolved, false)
