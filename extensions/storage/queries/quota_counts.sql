-- Proxied calls per organization since the start of the quota month.
SELECT organization_id, count() AS n FROM {db}.requests FINAL
WHERE created_at >= toDateTime(%(start)s, 'UTC')
GROUP BY organization_id
