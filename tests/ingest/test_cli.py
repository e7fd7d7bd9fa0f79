
"""``spanlens-pipeline traces show`` reads the embedded store after the service stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import orjson
import pytest
from spanlens import SpanlensClient

from ..support.running import REPO, free_port, run_cli, wait_http


@pytest.mark.slow
def test_traces_show_after_the_service_stopped(tmp_path):
    port = free_port()
    env = {**os.environ, "SPANLENS_DATA_DIR": str(tmp_path / "data"), "SPANLENS_ENDPOINT": f"127.0.0.1:{port}",
           "SPANLENS_SQL_ENDPOINT": f"127.0.0.1:{free_port()}"}
    proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        proc.stdout.readline()
        key = proc.stdout.readline().strip()
        failures = []
        sl = SpanlensClient(key, base_url=f"http://127.0.0.1:{port}", on_error=lambda e, w: failures.append(w))
        with sl.start_trace("cli-trace") as trace:
            with trace.span("outer", span_type="llm") as outer:
                with outer.child("inner", span_type="tool") as inner:
                    inner.end(total_tokens=12)
        assert sl.flush(10) and failures == []
        sl.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)

    shown = run_cli("traces", "show", trace.trace_id, env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "'cli-trace'" in lines[0] and "spans=2" in lines[0] and "tokens=12" in lines[0]
    assert lines[1].startswith("└─ outer (") and " completed " in lines[1]
    assert lines[2].startswith("   └─ inner (") and " completed " in lines[2] and "tokens=12" in lines[2]
    as_json = run_cli("traces", "show", trace.trace_id, "--json", "--project", "default", env=env)
    data = orjson.loads(as_json.stdout)
    assert data["spans"][0]["children"][0]["id"] == uuid.UUID(inner.span_id).hex
    missing = run_cli("traces", "show", str(uuid.uuid4()), env=env)
    assert missing.returncode == 1 and "not found" in missing.stderr
