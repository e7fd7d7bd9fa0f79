-- The ids of one page of the trace list when only time and cursor filter it: a trace's
-- start is the earliest start of its spans and its trace record, and a minimum does not
-- care about duplicates or unmerged parts, so two light columns are read without FINAL.
-- {where}: tenant; {having}: time range and cursor on sort_ns.
SELECT trace_id, ifNull(toUnixTimestamp64Nano(min(start_time)), 0) AS sort_ns
FROM
(
    SELECT project_id, trace_id, start_time FROM {db}.spans WHERE trace_id != '' AND {where}
    UNION ALL
    SELECT project_id, trace_id, start_time FROM {db}.trace_meta WHERE {where}
)
GROUP BY project_id, trace_id
HAVING {having}
ORDER BY sort_ns DESC, trace_id DESC
LIMIT %(limit)s
