-- No retention limit on a table (ttl 0).
ALTER TABLE {db}.{table} REMOVE TTL
