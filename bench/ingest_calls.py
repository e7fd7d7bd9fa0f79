"""Native ingest API throughput: SDK-shaped call sequences from concurrent clients.

    python bench/ingest_calls.py [--traces 200] [--spans-per-trace 3] [--concurrency 20]

Each client creates a trace, then for each span creates and ends it, then ends the trace
(the calls a Spanlens SDK makes), against a service subprocess on the embedded store.
Prints calls/s and the latency percentiles of a call, then checks that every span is
stored once with its end.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spanlens_pipeline.extensions.keystore import KeyStore  # noqa: E402
from tests.support.running import free_port, wait_http  # noqa: E402


async def one_trace(client: httpx.AsyncClient, headers: dict, spans: int, latencies: list[float]) -> None:
    async def call(method: str, url: str, body: dict) -> None:
        t = time.perf_counter()
        r = await client.request(method, url, json=body, headers=headers)
        latencies.append(time.perf_counter() - t)
        r.raise_for_status()

    trace = str(uuid.uuid4())
    await call("POST", "/ingest/traces", {"id": trace, "name": "bench"})
    for _ in range(spans):
        span = str(uuid.uuid4())
        await call("POST", f"/ingest/traces/{trace}/spans", {"id": span, "name": "step", "span_type": "llm"})
        await call("PATCH", f"/ingest/spans/{span}", {"status": "completed", "ended_at": "2026-01-01T00:00:01Z",
                                                      "prompt_tokens": 10, "completion_tokens": 5})
    await call("PATCH", f"/ingest/traces/{trace}", {"status": "completed"})


async def load(url: str, key: str, args) -> tuple[float, list[float]]:
    headers = {"authorization": f"Bearer {key}"}
    latencies: list[float] = []
    sem = asyncio.Semaphore(args.concurrency)

    async def guarded(client):
        async with sem:
            await one_trace(client, headers, args.spans_per_trace, latencies)

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(guarded(client) for _ in range(args.traces)))
        return time.perf_counter() - t0, latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=200)
    ap.add_argument("--spans-per-trace", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        env = {**os.environ, "SPANLENS_DATA_DIR": data, "SPANLENS_ENDPOINT": f"127.0.0.1:{port}",
               "SPANLENS_SQL_ENDPOINT": f"127.0.0.1:{free_port()}"}
        key = KeyStore(f"{data}/keystore.db").create_key("bench")[0]
        proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_http(f"http://127.0.0.1:{port}/health")
            seconds, latencies = asyncio.run(load(f"http://127.0.0.1:{port}", key, args))
        finally:
            proc.terminate()
            proc.wait(60)
        out = subprocess.run([sys.executable, "-m", "spanlens_pipeline", "sql",
                              "SELECT count() AS n, countIf(end_time IS NOT NULL) AS ended FROM spanlens.spans FINAL"],
                             cwd=REPO, env=env, capture_output=True, text=True)
    latencies.sort()
    calls = len(latencies)
    print(f"{calls} calls from {args.concurrency} clients in {seconds:.1f} s: {calls / seconds:,.0f} calls/s, "
          f"p50 {1000 * latencies[calls // 2]:.1f} ms, p99 {1000 * latencies[int(calls * 0.99)]:.1f} ms")
    stored = json.loads(out.stdout.splitlines()[0]) if out.returncode == 0 else out.stderr
    expected = args.traces * args.spans_per_trace
    print(f"stored spans: {stored} (expected {expected}, all ended)")


if __name__ == "__main__":
    main()
