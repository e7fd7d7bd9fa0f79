"""The sql extension as clients see it: unmodified ClickHouse clients (clickhouse-connect,
@clickhouse/client, plain HTTP) query the live embedded store while spans stream in;
nothing they send can change it."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import clickhouse_connect
import httpx
import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from ..support.otlp import pb_request, pb_span
from ..support.running import free_port, run_cli
from .test_guard import FORBIDDEN

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
PB = {"content-type": "application/x-protobuf"}

SQL_CONFIG = """
extensions:
  storage:
    endpoint: chdb://{chdb}
  keystore:
    path: {data}/keystore.db
    bootstrap_default_key: false
  sql:
    endpoint: 127.0.0.1:{sqlport}
    password_file: {data}/sql_password
    max_execution_time: 20
receivers:
  otlp:
    endpoint: 127.0.0.1:{port}
processors:
  auth:
exporters:
  clickhouse:
service:
  extensions: [storage, keystore, sql]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [auth]
      exporters: [clickhouse]
"""


class Live:
    """A running service with its sql endpoint, and a sender posting spans for one service name."""

    def __init__(self, rs, sqlport: int, data: Path, service_name: str) -> None:
        self.rs, self.port, self.data, self.service_name = rs, sqlport, data, service_name
        self.url = f"http://127.0.0.1:{sqlport}"
        self.password = (data / "sql_password").read_text().strip()
        self.key = rs.new_key(service_name)
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def post(self, n: int = 20) -> None:
        body = pb_request([pb_span(name=f"s{i}") for i in range(n)], service=self.service_name)
        r = httpx.post(self.rs.url + "/v1/traces", content=body, timeout=30,
                       headers={**PB, "authorization": f"Bearer {self.key}"})
        assert r.status_code == 200, r.text
        self.sent += n

    def stream(self) -> None:
        def run() -> None:
            while not self._stop.is_set():
                self.post()
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop_stream(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(60)

    def http(self, sql: str = "", **params) -> httpx.Response:
        return httpx.post(self.url + "/", params=params, content=sql.encode(), auth=("spanlens", self.password),
                          timeout=60)

    def count(self) -> int:
        r = self.http(f"SELECT count() FROM spans FINAL WHERE service_name = '{self.service_name}'")
        assert r.status_code == 200, r.text
        return int(r.text)


@pytest.fixture
def live(service_factory, tmp_path, project):
    sqlport = free_port()
    rs = service_factory(SQL_CONFIG.replace("{sqlport}", str(sqlport)))
    lv = Live(rs, sqlport, tmp_path, project)
    yield lv
    lv.stop_stream()


def test_password_is_generated_once_into_a_private_file(live, tmp_path):
    path = tmp_path / "sql_password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(live.password) >= 24
    r = httpx.get(live.url + "/ping")
    assert r.status_code == 200 and r.text == "Ok.\n"
    r = httpx.get(live.url + "/")
    assert r.status_code == 401 and r.headers["x-clickhouse-exception-code"] == "516"


def test_clickhouse_connect_queries_while_spans_stream_in(live):
    live.post()
    live.stream()
    client = clickhouse_connect.get_client(host="127.0.0.1", port=live.port, username="spanlens",
                                           password=live.password)
    assert client.query("SELECT version(), timezone()").result_rows[0][1]
    seen = []
    for _ in range(5):
        seen.append(client.query("SELECT count() FROM spans FINAL WHERE service_name = {s:String}",
                                 parameters={"s": live.service_name}).result_rows[0][0])
    assert seen[0] >= 20 and seen == sorted(seen)
    rows = client.query("SELECT name, trace_id FROM spans WHERE service_name = {s:String} LIMIT 3",
                        parameters={"s": live.service_name}).result_rows
    assert len(rows) == 3 and all(name.startswith("s") for name, _ in rows)
    with pytest.raises(DatabaseError) as info:
        client.command("DROP TABLE spans")
    assert "164" in str(info.value)
    live.stop_stream()
    assert client.query("SELECT count() FROM spans FINAL WHERE service_name = {s:String}",
                        parameters={"s": live.service_name}).result_rows[0][0] == live.sent
    client.close()


def test_node_clickhouse_client_queries_the_live_store(live):
    node = shutil.which("node")
    assert node, "node is required for this test"
    assert (NODE_DIR / "node_modules" / "@clickhouse" / "client").is_dir(), "run `npm ci --prefix tests/node`"
    live.post()
    live.stream()
    out = subprocess.run([node, "sql_query.mjs", live.url, "spanlens", live.password, live.service_name],
                         cwd=NODE_DIR, capture_output=True, text=True, timeout=60)
    live.stop_stream()
    assert out.returncode == 0, out.stderr
    report = orjson.loads(out.stdout.strip().splitlines()[-1])
    assert report["ping"] is True
    assert report["version"][0]["tz"]
    assert "spans" in report["tables"]
    assert report["count"] >= 20
    assert report["drop"]["code"] == "164"
    assert live.count() == live.sent


def test_every_forbidden_statement_is_refused_and_data_is_intact(live):
    live.post()
    before = live.count()
    tables_before = live.http("SHOW TABLES").text
    for sql, code in FORBIDDEN:
        r = live.http(sql)
        assert r.status_code in (400, 403), (sql, r.status_code, r.text)
        assert r.headers["x-clickhouse-exception-code"] == str(code), (sql, r.text)
        assert r.text.startswith(f"Code: {code}. DB::Exception: "), r.text
    for name, value in [("readonly", "0"), ("readonly", "2"), ("max_execution_time", "0"),
                        ("max_memory_usage", "0"), ("allow_ddl", "1"), ("max_execution_time", "1000")]:
        r = live.http("SELECT 1", **{name: value})
        assert r.status_code == 403 and r.headers["x-clickhouse-exception-code"] == "164", (name, r.text)
    # the query parameter and the body make one statement, as ClickHouse joins them
    r = httpx.post(live.url + "/?query=SELECT+1%3B", content=b"DROP TABLE spans", auth=("spanlens", live.password))
    assert r.status_code == 400 and r.headers["x-clickhouse-exception-code"] == "62"
    assert live.count() == before
    assert live.http("SHOW TABLES").text == tables_before


def test_wrong_credentials_are_refused_every_way(live):
    cases = [
        {"auth": ("spanlens", "wrong")},
        {"auth": ("default", live.password)},
        {"headers": {"X-ClickHouse-User": "spanlens", "X-ClickHouse-Key": "wrong"}},
        {"params": {"user": "spanlens", "password": "wrong"}},
        {},
    ]
    for kw in cases:
        r = httpx.post(live.url + "/", content=b"SELECT 1", **kw)
        assert r.status_code == 401, kw
        assert r.headers["x-clickhouse-exception-code"] == "516"
        assert "AUTHENTICATION_FAILED" in r.text
    with pytest.raises(DatabaseError):
        clickhouse_connect.get_client(host="127.0.0.1", port=live.port, username="spanlens", password="nope")
    for kw in [{"headers": {"X-ClickHouse-User": "spanlens", "X-ClickHouse-Key": live.password}},
               {"params": {"user": "spanlens", "password": live.password}}]:
        assert httpx.post(live.url + "/", content=b"SELECT 41 + 1", **kw).text == "42\n"


def test_curl_style_get_formats_headers_and_compression(live):
    auth = ("spanlens", live.password)
    r = httpx.get(live.url + "/?query=SELECT+1", auth=auth)
    assert r.status_code == 200 and r.text == "1\n"
    assert r.headers["x-clickhouse-format"] == "TabSeparated"
    assert r.headers["x-clickhouse-query-id"] and r.headers["x-clickhouse-timezone"]
    assert r.headers["x-clickhouse-server-display-name"] == "spanlens"
    assert "read_rows" in orjson.loads(r.headers["x-clickhouse-summary"])
    r = httpx.get(live.url + "/", params={"query": "SELECT number AS n FROM numbers(2)", "default_format": "JSONEachRow",
                                          "query_id": "q-1"}, auth=auth)
    assert r.text.splitlines() == ['{"n":0}', '{"n":1}'] and r.headers["x-clickhouse-query-id"] == "q-1"
    r = httpx.get(live.url + "/", params={"query": "SELECT 1", "query_id": "a\r\nX-Evil: 1"}, auth=auth)
    assert r.status_code == 200 and "x-evil" not in r.headers and len(r.headers["x-clickhouse-query-id"]) == 36
    r = httpx.post(live.url + "/", params={"query": "SELECT number AS n FROM numbers(3)"}, content=b"FORMAT CSV",
                   auth=auth)
    assert r.text == "0\n1\n2\n" and r.headers["x-clickhouse-format"] == "CSV"
    r = httpx.get(live.url + "/", params={"query": "SELECT {x:UInt8} * 2", "param_x": "21"}, auth=auth)
    assert r.text == "42\n"
    r = httpx.get(live.url + "/", params={"query": "SELECT currentDatabase()", "database": "system"}, auth=auth)
    assert r.text == "system\n"
    for enc in ("gzip", "zstd", "lz4"):
        r = httpx.get(live.url + "/", params={"query": "SELECT repeat('a', 1000)", "enable_http_compression": "1"},
                      headers={"Accept-Encoding": enc}, auth=auth)
        assert r.headers.get("content-encoding") == enc
        if enc == "gzip":
            assert r.text == "a" * 1000 + "\n"
    r = httpx.get(live.url + "/", params={"query": "SELECT nope FROM spans"}, auth=auth)
    assert r.status_code == 404 and r.text.startswith("Code: 47.") and r.headers["x-clickhouse-exception-code"] == "47"


def test_cli_sql_goes_through_the_running_service(live, tmp_path, chdb_path):
    live.post()
    config = tmp_path / "cli.yaml"
    config.write_text(SQL_CONFIG.replace("{sqlport}", str(live.port)).replace("{chdb}", chdb_path)
                      .replace("{data}", str(tmp_path)).replace("{port}", str(free_port())))
    query = f"SELECT service_name, count() AS n FROM spans FINAL WHERE service_name = '{live.service_name}' GROUP BY 1"
    out = run_cli("sql", "--format", "json", query, config=str(config))
    assert out.returncode == 0, out.stderr
    assert [orjson.loads(line) for line in out.stdout.splitlines()] == [{"service_name": live.service_name,
                                                                         "n": live.sent}]
    out = run_cli("sql", query, config=str(config))
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["service_name", "n"] and lines[2].split() == [live.service_name, str(live.sent)]
    out = run_cli("sql", "--format", "csv", query, config=str(config))
    assert out.stdout.splitlines() == ["service_name,n", f"{live.service_name},{live.sent}"]
    refused = run_cli("sql", "DROP TABLE spans", config=str(config))
    assert refused.returncode == 1 and "READONLY" in refused.stderr
    many = subprocess.run(f"{os.sys.executable} -m spanlens_pipeline sql --config {config} "
                          "'SELECT number FROM numbers(200000)' | head -2", shell=True, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[2])
    assert many.stdout.splitlines() == ["number", "------"] and "Traceback" not in many.stderr


def test_time_and_memory_bounds_stop_a_query(live):
    r = live.http("SELECT count() FROM numbers(100000000000)", max_execution_time="1")
    assert r.status_code == 500 and r.headers["x-clickhouse-exception-code"] == "159", r.text
    r = live.http("SELECT length(groupArray(number)) FROM numbers(100000000)", max_memory_usage="50000000")
    assert r.status_code == 500 and r.headers["x-clickhouse-exception-code"] == "241", r.text
    r = live.http("SELECT number FROM numbers(10)", max_result_rows="5")
    assert r.status_code == 500 and r.headers["x-clickhouse-exception-code"] == "396", r.text
    r = live.http("SELECT number FROM numbers(10) SETTINGS max_result_rows = 5, result_overflow_mode = 'throw'")
    assert r.status_code == 500 and r.headers["x-clickhouse-exception-code"] == "396", r.text
    client = clickhouse_connect.get_client(host="127.0.0.1", port=live.port, username="spanlens",
                                           password=live.password)
    with pytest.raises(DatabaseError) as info:
        client.query("SELECT number FROM numbers(10) SETTINGS max_result_rows = 5")
    assert "396" in str(info.value)
    client.close()
    assert live.http("SELECT 1").text == "1\n"  # the endpoint keeps answering
