"""Disk-full drill: the store's data directory on a small tmpfs, the service in a subprocess
(the embedded engine takes one data directory per process). Without a log, a full disk answers
a retryable 503 with Retry-After and /health goes not-ready; with the write-ahead log, requests
are still answered from the log until it is full. Once space is freed, writes succeed again,
/health is green, and everything acknowledged is stored."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import orjson
import pytest

from spanlens_pipeline.extensions.keystore import KeyStore
from tests.support.otlp import kv, pb_request, pb_span
from tests.support.running import REPO, free_port, run_cli, wait_http

CONFIG = """
extensions:
  storage:
    endpoint: chdb://{disk}/clickhouse
  keystore:
    path: {data}/keystore.db
    bootstrap_default_key: false
receivers:
  otlp:
    endpoint: 127.0.0.1:{port}
processors:
  auth:
exporters:
  clickhouse:
service:
  extensions: [storage, keystore]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [auth]
      exporters: [clickhouse]
"""


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"the disk-full drill needs a small filesystem; mount failed: {done.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _batch(n: int = 20) -> tuple[list[str], bytes]:
    spans = [pb_span() for _ in range(n)]
    for sp in spans:
        sp.attributes.append(kv("gen_ai.prompt", os.urandom(12_000).hex()))  # incompressible
    return [sp.trace_id.hex() for sp in spans], pb_request(spans)


def _config(tmp_path, disk, wal: bool) -> tuple[str, str]:
    """The service's config file and URL; with ``wal``, a 1 MiB log off the small disk in front."""
    port = free_port()
    text = CONFIG.format(disk=disk, data=tmp_path, port=port)
    if wal:
        text = text.replace("  keystore:", f"  wal:\n    directory: {tmp_path}/wal\n    max_size: 1MiB\n"
                            "    segment_size: 1MiB\n    max_retry_interval: 200ms\n  keystore:", 1)
        text = text.replace(f"    endpoint: 127.0.0.1:{port}\n", f"    endpoint: 127.0.0.1:{port}\n    wal: wal\n", 1)
        text = text.replace("extensions: [storage, keystore]", "extensions: [storage, wal, keystore]")
    cfg = tmp_path / "service.yaml"
    cfg.write_text(text)
    return str(cfg), f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("wal", [False, True], ids=["direct", "wal"])
def test_a_full_disk_is_a_retryable_503_and_not_ready_until_space_returns(small_disk, tmp_path, wal):
    cfg, url = _config(tmp_path, small_disk, wal)
    store = KeyStore(str(tmp_path / "keystore.db"))
    try:
        key = store.create_key("diskfull")[0]
    finally:
        store.close()
    log = open(tmp_path / "service.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run", "--config", cfg],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(url + "/health", timeout=90)
        ballast = small_disk / "ballast"
        ballast.write_bytes(os.urandom(2 << 20))
        acknowledged: list[str] = []
        full = None
        with httpx.Client(base_url=url, timeout=60,
                          headers={"authorization": f"Bearer {key}", "content-type": "application/x-protobuf"}) as c:
            for _ in range(60):
                ids, body = _batch()
                r = c.post("/v1/traces", content=body)
                if r.status_code == 200:
                    acknowledged += ids
                    continue
                full = r
                break
            assert full is not None, "the disk never filled up"
            assert full.status_code == 503, full.content
            assert int(full.headers["retry-after"]) > 0
            health = c.get("/health")
            assert health.status_code == 503
            if wal:  # the store's disk is full, so the log filled up behind it
                assert b"LOG_FULL" in full.content and len(acknowledged) > 20
                assert "write-ahead log is full" in health.json()["error"]["message"]
            else:
                assert b"STORE_FULL" in full.content
                assert "disk is full" in health.json()["error"]["message"]

            ballast.unlink()  # the operator frees space
            for _ in range(40):
                ids, body = _batch(1)
                r = c.post("/v1/traces", content=body)
                if r.status_code == 200:
                    acknowledged += ids
                    break
                assert r.status_code == 503, r.content
                time.sleep(0.5)
            assert r.status_code == 200, r.content
            deadline = time.time() + 30  # with a log, ready again once it has drained below its bound
            while (health := c.get("/health")).status_code != 200 and wal and time.time() < deadline:
                time.sleep(0.2)
            assert health.status_code == 200, health.content
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    assert acknowledged
    out = run_cli("sql", f"SELECT uniqExact(trace_id) AS n FROM spanlens.spans WHERE trace_id IN "
                         f"({','.join(repr(t) for t in acknowledged)})", "--format", "json", config=cfg)
    assert out.returncode == 0, out.stderr
    assert orjson.loads(out.stdout.splitlines()[0])["n"] == len(acknowledged)
    assert b"Traceback" not in (tmp_path / "service.log").read_bytes()
