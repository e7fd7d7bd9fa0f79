"""With a spool, spans accepted while the ClickHouse server is down are kept on disk and
reach the server once it is back — in the same service, or after the service restarts."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import clickhouse_connect
import httpx

from ..conftest import BASE_CONFIG
from ..support.otlp import pb_request, pb_span
from ..support.running import REPO, free_port, wait_http

PB = {"content-type": "application/x-protobuf"}


class Server:
    """The ClickHouse HTTP front over chdb, stoppable and restartable on the same data."""

    def __init__(self, data_dir: str) -> None:
        self.port, self.data_dir, self.proc = free_port(), data_dir, None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.chshim", str(self.port), self.data_dir],
                                     cwd=REPO)
        wait_http(f"http://127.0.0.1:{self.port}/ping")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def count(self, trace_id: str) -> int:
        client = clickhouse_connect.get_client(host="127.0.0.1", port=self.port)
        return client.query(f"SELECT count() FROM spanlens_spool.spans FINAL WHERE trace_id = '{trace_id}'").result_rows[0][0]

    def wait_count(self, trace_id: str, n: int, timeout: float = 60) -> int:
        deadline = time.time() + timeout
        while (got := self.count(trace_id)) != n and time.time() < deadline:
            time.sleep(0.2)
        return got


def _send(url: str, key: str, n: int) -> str:
    trace = os.urandom(16)
    r = httpx.post(url + "/v1/traces", content=pb_request([pb_span(trace) for _ in range(n)]),
                   headers={**PB, "authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    return trace.hex()


def test_spans_accepted_during_an_outage_arrive_later(service_factory, tmp_path, project):
    server = Server(str(tmp_path / "ch"))
    server.start()
    spool = tmp_path / "spool"
    config = BASE_CONFIG.replace("endpoint: chdb://{chdb}", f"endpoint: http://127.0.0.1:{server.port}\n"
                                 "    database: spanlens_spool").replace(
        "exporters:\n  clickhouse:\n", f"exporters:\n  clickhouse:\n    spool: {{directory: {spool}}}\n")
    try:
        rs = service_factory(config)
        key = rs.new_key(project)
        before = _send(rs.url, key, 5)
        assert server.count(before) == 5 and not list(spool.glob("*.spool"))

        server.kill()
        during = _send(rs.url, key, 7)  # acknowledged: durably spooled
        assert len(list(spool.glob("*.spool"))) == 1
        assert "spanlens_exporter_spooled_rows_total" in httpx.get(rs.url + "/metrics").text
        server.start()
        assert server.wait_count(during, 7) == 7
        deadline = time.time() + 30
        while list(spool.glob("*.spool")) and time.time() < deadline:
            time.sleep(0.1)
        assert not list(spool.glob("*.spool"))

        server.kill()
        queued = _send(rs.url, key, 3)
        rs.stop()  # stopped while rows wait on disk
        assert len(list(spool.glob("*.spool"))) == 1
        server.start()
        service_factory(config)  # the next start drains the spool
        assert server.wait_count(queued, 3) == 3
        assert server.count(before) == 5 and server.count(during) == 7
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill()
