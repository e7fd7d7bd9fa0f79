-- Keep a table's rows for %(seconds)s after {column} (the storage extension's ttl setting).
ALTER TABLE {db}.{table} MODIFY TTL {column} + toIntervalSecond(%(seconds)s)
