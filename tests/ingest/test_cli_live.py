"""``traces show``, ``traces list`` and ``stats`` answer while the service runs: the embedded
store belongs to the service, so they read through its sql endpoint."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import orjson

from ..receivers.otlp_payloads import pb_request, pb_span
from ..support.running import REPO, free_port, run_cli, wait_http


def test_read_commands_while_the_service_runs(tmp_path):
    port = free_port()
    env = {**os.environ, "SPANLENS_DATA_DIR": str(tmp_path / "data"), "SPANLENS_ENDPOINT": f"127.0.0.1:{port}",
           "SPANLENS_SQL_ENDPOINT": f"127.0.0.1:{free_port()}"}
    proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        proc.stdout.readline()
        key = proc.stdout.readline().strip()
        trace = os.urandom(16)
        now = time.time_ns()
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                 "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000,
                 "gen_ai.usage.output_tokens": 500}
        body = pb_request([pb_span(trace, name="chat gpt-4o", attrs=attrs, start=now - 10**9, end=now)])
        r = httpx.post(f"http://127.0.0.1:{port}/v1/traces", content=body,
                       headers={"content-type": "application/x-protobuf", "authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text

        shown = run_cli("traces", "show", trace.hex(), env=env)
        assert shown.returncode == 0, shown.stderr
        assert "'chat gpt-4o'" in shown.stdout and "tokens=1500" in shown.stdout

        listed = run_cli("traces", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert trace.hex() in [row["id"] for row in orjson.loads(listed.stdout)["data"]]

        stats = run_cli("stats", "--by", "model", "--json", env=env)
        assert stats.returncode == 0, stats.stderr
        by_model = {row["key"]: row for row in orjson.loads(stats.stdout)["data"]}
        assert by_model["gpt-4o"]["calls"] == 1 and by_model["gpt-4o"]["input_tokens"] == 1000
        assert proc.poll() is None  # read while it runs, not after
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
