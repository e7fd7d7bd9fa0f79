"""kill -9 during load, many times: every span the service acknowledged is stored exactly once
after the restarts, and nothing it refused or never answered is needed for that."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import orjson
import pytest

from ..support.otlp import pb_request, pb_span
from ..support.running import REPO, free_port, run_cli, wait_http

PB = {"content-type": "application/x-protobuf"}
CYCLES = 5
SPANS = 40  # per request


def _start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _load(url: str, key: str, acknowledged: dict[str, int], stop: threading.Event) -> None:
    """Send requests until ``stop``; record the traces of those answered 200."""
    with httpx.Client(timeout=10, headers={**PB, "authorization": f"Bearer {key}"}) as c:
        while not stop.is_set():
            trace = os.urandom(16)
            try:
                r = c.post(url + "/v1/traces", content=pb_request([pb_span(trace) for _ in range(SPANS)]))
            except httpx.HTTPError:
                continue  # killed mid-request: not acknowledged
            if r.status_code == 200:
                acknowledged[trace.hex()] = SPANS


@pytest.mark.slow
def test_every_acknowledged_span_survives_repeated_kill_9(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SPANLENS_DATA_DIR": str(tmp_path / "data"), "SPANLENS_ENDPOINT": f"127.0.0.1:{port}",
           "SPANLENS_SQL_ENDPOINT": f"127.0.0.1:{free_port()}"}
    rng = random.Random(11)
    acknowledged: dict[str, int] = {}
    key = ""
    for _ in range(CYCLES):
        proc = _start(env)
        try:
            wait_http(url + "/health", timeout=90)
            if not key:
                proc.stdout.readline()
                key = proc.stdout.readline().strip()
            stop = threading.Event()
            senders = [threading.Thread(target=_load, args=(url, key, acknowledged, stop)) for _ in range(4)]
            for t in senders:
                t.start()
            time.sleep(rng.uniform(0.5, 2.0))
            proc.send_signal(signal.SIGKILL)  # no shutdown code runs
            proc.wait(30)
            stop.set()
            for t in senders:
                t.join(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    assert len(acknowledged) > CYCLES
    proc = _start(env)  # the last start loads what the last kill left in the log; a graceful stop drains it
    try:
        wait_http(url + "/health", timeout=90)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # The store is this test's own: every trace in it came from the load above.
    out = run_cli("sql", "--format", "json", "SELECT trace_id, count() AS n, uniqExact(span_id) AS u "
                  "FROM spanlens.spans FINAL GROUP BY trace_id", env=env)
    assert out.returncode == 0, out.stderr
    stored = {r["trace_id"]: (r["n"], r["u"]) for r in map(orjson.loads, out.stdout.splitlines())}
    assert {t: stored.get(t) for t in acknowledged} == {t: (n, n) for t, n in acknowledged.items()}
    # a request cut short by a kill may still be stored whole (it was in the log), never in part
    assert all(n == u == SPANS for n, u in stored.values())
