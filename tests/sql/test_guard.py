"""The statement guard: what a client may run, found by tokens (so words inside strings do not count)."""
from __future__ import annotations

import pytest

from spanlens_pipeline.extensions.sql import guard
from spanlens_pipeline.extensions.sql.exceptions import ClickHouseException

BOUNDS = {"max_execution_time": 30, "max_memory_usage": 2 * 1024**3, "max_result_rows": 0,
          "max_result_bytes": 1024**3, "max_threads": 2}

# Every statement a client must not run, with the code it is refused with.
FORBIDDEN = [
    ("INSERT INTO spans (trace_id) VALUES ('x')", 164),
    ("ALTER TABLE spans DELETE WHERE 1", 164),
    ("DROP TABLE spans", 164),
    ("DROP DATABASE spanlens", 164),
    ("CREATE TABLE t (x Int8) ENGINE = Memory", 164),
    ("CREATE TEMPORARY TABLE t (x Int8)", 164),
    ("TRUNCATE TABLE spans", 164),
    ("RENAME TABLE spans TO spans2", 164),
    ("OPTIMIZE TABLE spans FINAL", 164),
    ("SYSTEM SHUTDOWN", 164),
    ("SYSTEM DROP MARK CACHE", 164),
    ("KILL QUERY WHERE 1", 164),
    ("GRANT ALL ON *.* TO default", 164),
    ("REVOKE ALL ON *.* FROM default", 164),
    ("ATTACH TABLE spans", 164),
    ("DETACH TABLE spans", 164),
    ("DELETE FROM spans WHERE 1", 164),
    ("UNDROP TABLE spans", 164),
    ("EXCHANGE TABLES spans AND traces", 164),
    ("SET readonly = 0", 164),
    ("SET max_memory_usage = 0", 164),
    ("USE system", 164),
    ("BACKUP TABLE spans TO Disk('default', 'x')", 164),
    ("SELECT 1; DROP TABLE spans", 62),
    ("SELECT 1;SELECT 2", 62),
    ("SELECT 1 SETTINGS readonly = 0", 164),
    ("SELECT 1 SETTINGS readonly = 2", 164),
    ("SELECT 1 SETTINGS max_execution_time = 100000", 164),
    ("SELECT 1 SETTINGS max_memory_usage = 0", 164),
    ("SELECT 1 SETTINGS allow_ddl = 1", 164),
    ("SELECT * FROM (SELECT 1 SETTINGS readonly = 0)", 164),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", 497),
    ("SELECT file('/etc/passwd')", 497),
    ("SELECT * FROM `file`('/etc/passwd', 'LineAsString')", 497),
    ("SELECT * FROM \"FILE\" /* c */ ('/etc/passwd', 'LineAsString')", 497),
    ("SELECT * FROM url('http://127.0.0.1:1/', 'CSV')", 497),
    ("SELECT * FROM s3('http://x/y', 'CSV')", 497),
    ("SELECT * FROM s3Cluster('c', 'http://x/y', 'CSV')", 497),
    ("SELECT * FROM hdfs('hdfs://x/y', 'CSV')", 497),
    ("SELECT * FROM remote('127.0.0.1', system.one)", 497),
    ("SELECT * FROM remoteSecure('127.0.0.1', system.one)", 497),
    ("SELECT * FROM cluster('default', system.one)", 497),
    ("SELECT * FROM mysql('h:3306', 'd', 't', 'u', 'p')", 497),
    ("SELECT * FROM postgresql('h:5432', 'd', 't', 'u', 'p')", 497),
    ("SELECT * FROM jdbc('x', 'y')", 497),
    ("SELECT * FROM odbc('x', 'y', 'z')", 497),
    ("SELECT * FROM executable('x.sh', 'TSV', 'a String')", 497),
    ("SELECT * FROM input('a String')", 497),
    ("SELECT * FROM azureBlobStorage('x', 'c', 'b')", 497),
    ("SELECT * FROM deltaLake('http://x/y')", 497),
    ("SELECT * FROM iceberg('http://x/y')", 497),
    ("SELECT * FROM icebergS3('http://x/y')", 497),
    ("SELECT * FROM hudi('http://x/y')", 497),
    ("SELECT * FROM sqlite('x.db', 't')", 497),
    ("SELECT * FROM redis('h:6379', 'k', 'k String')", 497),
    ("SELECT * FROM mongodb('h:27017', 'd', 'c', 'u', 'p', 'x String')", 497),
    ("SELECT * FROM gcs('http://x/y', 'CSV')", 497),
    ("SELECT * FROM Python(df)", 497),
    ("SELECT catboostEvaluate('/etc/model.bin', 1)", 497),
    ("WITH x AS (SELECT * FROM url('http://x/', 'CSV')) SELECT * FROM x", 497),
    ("SELECT 1 INTO OUTFILE '/tmp/x'", 497),
    ("", 62),
    ("-- only a comment", 62),
]


@pytest.mark.parametrize("sql,code", FORBIDDEN)
def test_forbidden_statements_are_refused(sql, code):
    with pytest.raises(ClickHouseException) as info:
        guard.check(sql, BOUNDS)
    assert info.value.code == code, info.value.message


@pytest.mark.parametrize("sql", [
    "SELECT 1", "select count() from spans", "  WITH 1 AS x SELECT x", "SHOW TABLES", "SHOW DATABASES",
    "DESCRIBE TABLE spans", "DESC spans", "EXISTS TABLE spans", "EXPLAIN SELECT 1", "(SELECT 1) UNION ALL (SELECT 2)",
    "SELECT 'DROP TABLE spans; file(1)' AS s", "SELECT 1 -- ; DROP TABLE x", "SELECT $$ ; DROP $$",
    "SELECT `file` FROM (SELECT 1 AS `file`)", "SELECT format('{}', 1)", "SHOW SETTINGS LIKE 'max%'",
    "SELECT 1;", "SELECT * FROM numbers(3)",
])
def test_read_statements_pass(sql):
    assert guard.check(sql, BOUNDS).sql


def test_format_and_settings_clauses_are_taken_out():
    stmt = guard.check("SELECT 1 AS x SETTINGS max_result_rows = 10, output_format_json_quote_64bit_integers = 0 "
                       "FORMAT JSONEachRow;", BOUNDS)
    assert stmt.sql == "SELECT 1 AS x"
    assert stmt.fmt == "JSONEachRow"
    assert stmt.settings == {"max_result_rows": "10", "output_format_json_quote_64bit_integers": "0"}


def test_settings_may_tighten_limits_but_not_loosen_them():
    assert guard.setting("max_execution_time", "5", BOUNDS) == "5"
    assert guard.setting("readonly", "1", BOUNDS) is None
    for name, value in [("max_execution_time", "31"), ("max_execution_time", "0"), ("max_memory_usage", "0"),
                        ("readonly", "0"), ("allow_ddl", "1"), ("output_format_schema", "/tmp/x"),
                        ("format_template_resultset", "/etc/passwd"), ("allow_introspection_functions", "1")]:
        with pytest.raises(ClickHouseException) as info:
            guard.setting(name, value, BOUNDS)
        assert info.value.code in (164, 115), name
