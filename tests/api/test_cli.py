"""``traces list`` and ``stats`` read the embedded store after the service stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import orjson

from ..support.otlp import pb_request
from ..support.running import REPO, free_port, run_cli, wait_http
from .helpers import T0, llm_trace


def test_list_and_stats_after_the_service_stopped(tmp_path):
    port = free_port()
    env = {**os.environ, "SPANLENS_DATA_DIR": str(tmp_path / "data"), "SPANLENS_ENDPOINT": f"127.0.0.1:{port}",
           "SPANLENS_SQL_ENDPOINT": f"127.0.0.1:{free_port()}"}
    proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    spans, ids = [], []
    for i in range(4):
        s, tid = llm_trace(T0 + i * 86_400_000_000_000, model=["gpt-4o", "gpt-4o-mini"][i % 2], user=f"u{i % 2}",
                           name=f"job-{i}")
        spans += s
        ids.append(tid)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        proc.stdout.readline()
        key = proc.stdout.readline().strip()
        r = httpx.post(f"http://127.0.0.1:{port}/v1/traces", content=pb_request(spans),
                       headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"})
        assert r.status_code == 200, r.text
        api = httpx.get(f"http://127.0.0.1:{port}/api/v1/stats", params={"group_by": "day", "since": "2025-12-31"},
                        headers={"Authorization": f"Bearer {key}"}).json()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)

    listed = run_cli("traces", "list", "--json", "--project", "default", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [t["id"] for t in orjson.loads(listed.stdout)["data"]] == ids[::-1]
    table = run_cli("traces", "list", "--model", "gpt-4o", "--limit", "5", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["started", "id", "name"] and len(lines) == 3
    assert ids[2] in lines[1] and "job-2" in lines[1] and ids[0] in lines[2]

    stats = run_cli("stats", "--by", "day", "--since", "2025-12-31", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    assert orjson.loads(stats.stdout) == api
    assert [r["key"] for r in api["data"]] == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
    by_model = run_cli("stats", "--by", "model", "--since", "2025-12-31", env=env)
    rows = [line.split() for line in by_model.stdout.splitlines()]
    assert rows[0][:3] == ["model", "calls", "input"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("gpt-4o", "2"), ("gpt-4o-mini", "2")]
    widths = {len(line) for line in by_model.stdout.splitlines()}
    assert len(widths) == 1, "columns are aligned"
    both = run_cli("stats", "--by", "day,model", "--since", "2025-12-31", env=env)
    assert [line.split()[:3] for line in both.stdout.splitlines()] == [
        ["day", "model", "calls"], ["2026-01-01", "gpt-4o", "1"], ["2026-01-02", "gpt-4o-mini", "1"],
        ["2026-01-03", "gpt-4o", "1"], ["2026-01-04", "gpt-4o-mini", "1"]]
    assert run_cli("stats", "--since", "2025-12-31", "--project", "nope", env=env).returncode == 1
    bad = run_cli("traces", "list", "--since", "soon", env=env)
    assert bad.returncode == 1 and "since" in bad.stderr
