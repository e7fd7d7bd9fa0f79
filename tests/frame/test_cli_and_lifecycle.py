"""The service as a user runs it: a subprocess started from config/default.yaml, keys managed
by the CLI while it runs, graceful SIGTERM that loses nothing accepted, and the sql command."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import httpx
import orjson
import pytest

from ..support.otlp import pb_request, pb_span
from ..support.running import REPO, free_port, run_cli, wait_http

PB = {"content-type": "application/x-protobuf"}


@pytest.fixture
def running(tmp_path):
    port = free_port()
    env = {**os.environ, "SPANLENS_DATA_DIR": str(tmp_path / "data"), "SPANLENS_ENDPOINT": f"127.0.0.1:{port}",
           "SPANLENS_SQL_ENDPOINT": f"127.0.0.1:{free_port()}"}
    proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/health")
        yield proc, url, env
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def _post(url: str, key: str, spans=None) -> httpx.Response:
    return httpx.post(url + "/v1/traces", content=pb_request(spans or [pb_span()]),
                      headers={**PB, "authorization": f"Bearer {key}"}, timeout=30)


@pytest.mark.slow
def test_first_start_key_cli_keys_live_and_graceful_stop(running):
    proc, url, env = running
    # the bootstrap key is printed once on the first start
    first_line = proc.stdout.readline()
    assert "Created a key for project 'default'" in first_line
    boot_key = proc.stdout.readline().strip()
    assert boot_key.startswith("sl_live_") and len(boot_key) == len("sl_live_") + 48
    assert _post(url, boot_key).status_code == 200

    # keys created and revoked by the CLI take effect without a restart
    created = run_cli("keys", "create", "--project", "alpha", env=env)
    assert created.returncode == 0, created.stderr
    new_key = created.stdout.strip().splitlines()[-1]
    assert _post(url, new_key).status_code == 200

    public = run_cli("keys", "create", "--project", "alpha", "--public", env=env).stdout.strip().splitlines()[-1]
    assert public.startswith("sl_live_pub_")
    r = _post(url, public)
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/x-protobuf"
    r = httpx.post(url + "/v1/traces", content=b"{}", headers={"content-type": "application/json",
                                                               "x-api-key": public})
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "PUBLIC_KEY_WRITE_FORBIDDEN" and err["details"] == {"scope": "public"}
    assert err["message"] == "Public scope keys cannot use proxy, ingest, or OTLP endpoints"

    listing = run_cli("keys", "list", env=env)
    assert new_key not in listing.stdout and new_key[:16] in listing.stdout
    assert run_cli("keys", "revoke", new_key[:16], env=env).returncode == 0
    r = httpx.post(url + "/v1/traces", content=b"{}", headers={"content-type": "application/json",
                                                               "authorization": f"Bearer {new_key}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"

    # the embedded store belongs to the running service: the sql command goes through its sql endpoint
    live = run_cli("sql", "--format", "json", "SELECT 1 AS one", env=env)
    assert live.returncode == 0 and orjson.loads(live.stdout) == {"one": 1}, live.stderr

    # load, then SIGTERM in the middle of it: every span answered 200 is stored
    acknowledged: list[str] = []
    lock = threading.Lock()

    def sender():
        with httpx.Client(timeout=30) as c:
            for _ in range(40):
                trace = os.urandom(16)
                try:
                    r = c.post(url + "/v1/traces", content=pb_request([pb_span(trace) for _ in range(50)]),
                               headers={**PB, "authorization": f"Bearer {boot_key}"})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    with lock:
                        acknowledged.append(trace.hex())

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 10:
        threading.Event().wait(0.01)
    proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(60)
    assert proc.wait(60) == 0

    traces = "','".join(acknowledged)
    out = run_cli("sql", "--format", "json", f"SELECT trace_id, count() AS n FROM spanlens.spans FINAL WHERE trace_id IN ('{traces}') "
                  "GROUP BY trace_id", env=env)
    assert out.returncode == 0, out.stderr
    counts = {r["trace_id"]: r["n"] for r in map(orjson.loads, out.stdout.splitlines())}
    assert len(acknowledged) >= 10
    assert counts == {t: 50 for t in acknowledged}


@pytest.mark.slow
def test_validate_and_migrate_commands(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "config" / "default.yaml").read_text().replace("endpoint: chdb://", "endpont: chdb://"))
    r = run_cli("validate", config=str(bad))
    assert r.returncode == 2 and "extensions::storage::endpont: unknown key" in r.stderr
    env = {"SPANLENS_DATA_DIR": str(tmp_path / "d")}
    assert run_cli("validate", env=env).returncode == 0
    first = run_cli("migrate", env=env)
    assert first.returncode == 0 and "applied 0001_spans" in first.stdout
    again = run_cli("migrate", env=env)
    assert again.returncode == 0 and "applied" not in again.stdout and "up to date" in again.stdout


@pytest.mark.slow
def test_kill_9_after_the_answer_loses_nothing(running):
    proc, url, env = running
    proc.stdout.readline()
    key = proc.stdout.readline().strip()
    traces = []
    with httpx.Client(timeout=30) as c:
        for _ in range(20):
            trace = os.urandom(16)
            r = c.post(url + "/v1/traces", content=pb_request([pb_span(trace) for _ in range(25)]),
                       headers={**PB, "authorization": f"Bearer {key}"})
            assert r.status_code == 200
            traces.append(trace.hex())
    proc.kill()  # SIGKILL: no shutdown code runs
    proc.wait(30)
    # The answers came from the write-ahead log: the next start stores what it holds, and a
    # graceful stop waits for that before the store is read offline.
    again = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run"], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(url + "/health")
        again.send_signal(signal.SIGTERM)
        assert again.wait(60) == 0
    finally:
        if again.poll() is None:
            again.kill()
    ids = "','".join(traces)
    out = run_cli("sql", "--format", "json", f"SELECT count() AS n FROM spanlens.spans FINAL WHERE trace_id IN ('{ids}')", env=env)
    assert out.returncode == 0, out.stderr
    assert orjson.loads(out.stdout.splitlines()[0])["n"] == 20 * 25
