"""With the write-ahead log, spans acknowledged while the ClickHouse server is down wait in the
log and reach the server once it is back — in the same service, or after a restart. Only a
full log refuses (503 LOG_FULL), and what it acknowledged still arrives."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import clickhouse_connect
import httpx

from ..support.config import BASE, service_config
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
        return client.query(f"SELECT count() FROM spanlens_outage.spans FINAL WHERE trace_id = '{trace_id}'").result_rows[0][0]

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


def _config(server: Server, wal: str, max_size: str = "64MiB") -> str:
    extensions = {**BASE["extensions"], "storage": {"endpoint": f"http://127.0.0.1:{server.port}",
                                                    "database": "spanlens_outage"},
                  "wal": {"directory": wal, "max_size": max_size, "segment_size": "1MiB",
                          "max_retry_interval": "200ms"}}
    return service_config(extensions=extensions, receivers={"otlp": {"endpoint": "127.0.0.1:{port}", "wal": "wal"}})


def _waiting(wal) -> int:
    """Bytes in the log's files (entries not yet stored, once the checkpoint moved)."""
    return sum(p.stat().st_size for p in wal.glob("*.wal"))


def test_spans_acknowledged_during_an_outage_arrive_later(service_factory, tmp_path, project):
    server = Server(str(tmp_path / "ch"))
    server.start()
    wal = tmp_path / "wal"
    config = _config(server, str(wal))
    try:
        rs = service_factory(config)
        key = rs.new_key(project)
        before = _send(rs.url, key, 5)
        assert server.wait_count(before, 5) == 5

        server.kill()
        during = _send(rs.url, key, 7)  # acknowledged: in the log
        assert _waiting(wal) > 0
        time.sleep(1)  # the loader tries and backs off meanwhile
        assert "spanlens_wal_load_retries_total" in httpx.get(rs.url + "/metrics").text
        server.start()
        assert server.wait_count(during, 7) == 7

        server.kill()
        queued = _send(rs.url, key, 3)
        rs.stop()  # stopped while the entry waits in the log
        server.start()
        service_factory(config)  # the next start loads it
        assert server.wait_count(queued, 3) == 3
        assert server.count(before) == 5 and server.count(during) == 7
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill()


def test_a_full_log_refuses_until_the_store_is_back(service_factory, tmp_path, project):
    server = Server(str(tmp_path / "ch"))
    server.start()
    config = _config(server, str(tmp_path / "wal"), max_size="1MiB")
    try:
        rs = service_factory(config)
        key = rs.new_key(project)
        server.kill()
        acknowledged: dict[str, int] = {}
        refused = None
        for _ in range(200):  # ~40 KB per request: the 1 MiB log fills within a few dozen
            trace = os.urandom(16)
            r = httpx.post(rs.url + "/v1/traces", content=pb_request([pb_span(trace, attrs={"x": "y" * 2000})
                                                                      for _ in range(20)]),
                           headers={**PB, "authorization": f"Bearer {key}"}, timeout=30)
            if r.status_code != 200:
                refused = r
                break
            acknowledged[trace.hex()] = 20
        assert refused is not None and acknowledged, "the log never filled up"
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
        assert httpx.get(rs.url + "/health").status_code == 503
        server.start()
        for trace, n in acknowledged.items():
            assert server.wait_count(trace, n) == n
        assert _send(rs.url, key, 2)  # room again
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill()
