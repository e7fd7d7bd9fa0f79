"""Proxy added latency: the same local stub upstream called directly and through the proxy.

The stub upstream and the service each run in a subprocess (the service with an embedded
store in a temporary directory); this process is only the load generator (aiohttp, one
keep-alive connection per target, one call at a time). Direct and proxied calls
alternate in rounds so both see the same conditions. Prints p50/p99/p99.9 of each and of
the difference, the time to the first byte of streamed calls, and the service CPU time
per proxied call (utime+stime from /proc/<pid>/stat). Targets (DESIGN §6): added p50
≤ 1 ms, p99 ≤ 5 ms, first streamed byte not delayed.

    python bench/proxy_latency.py [--requests 3000] [--streams 200] [--exporter nop]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spanlens_pipeline.extensions.keystore import KeyStore, crypto  # noqa: E402
from spanlens_pipeline.extensions.keystore.provider_keys import ProviderKeys  # noqa: E402
from tests.support.running import free_port, wait_http  # noqa: E402

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
STUB = ("import time; from tests.support.stub_upstream import StubUpstream; "
        "StubUpstream(port={port}).start(); time.sleep(10**9)")
TICK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


async def timed_post(s: aiohttp.ClientSession, url: str, headers: dict, body: dict) -> float:
    t = time.perf_counter()
    async with s.post(url, json=body, headers=headers) as r:
        await r.read()
        assert r.status == 200, r.status
    return (time.perf_counter() - t) * 1000


async def first_byte(s: aiohttp.ClientSession, url: str, headers: dict, body: dict) -> float:
    t = time.perf_counter()
    elapsed = 0.0
    async with s.post(url, json=body, headers=headers) as r:
        async for _ in r.content.iter_any():
            elapsed = elapsed or (time.perf_counter() - t) * 1000
    return elapsed


def report(name: str, direct: list[float], proxied: list[float]) -> None:
    added = [x - d for d, x in zip(direct, proxied)]
    print(f"{name}: n={len(direct)}")
    for label, p in (("p50", 0.50), ("p99", 0.99), ("p99.9", 0.999)):
        d, x = pct(direct, p), pct(proxied, p)
        print(f"  {label:5}: direct {d:7.3f} ms   proxied {x:7.3f} ms   added {x - d:7.3f} ms"
              f"   (pairwise added {pct(added, p):7.3f} ms)")


async def run(args, port: int, stub_url: str, raw: str, pid: int) -> None:
    direct_url = f"{stub_url}/openai/v1/chat/completions"
    proxy_url = f"http://127.0.0.1:{port}/proxy/openai/v1/chat/completions"
    auth = {"authorization": f"Bearer {raw}"}
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as s:
        for _ in range(100):  # warm up both paths
            await timed_post(s, direct_url, {}, CHAT)
            await timed_post(s, proxy_url, auth, CHAT)
        direct, proxied, cpu = [], [], 0.0
        rounds = max(1, args.requests // 100)
        for _ in range(rounds):  # rounds of 100 direct calls, then 100 proxied ones
            for _ in range(100):
                direct.append(await timed_post(s, direct_url, {}, CHAT))
            before = cpu_seconds(pid)
            for _ in range(100):
                proxied.append(await timed_post(s, proxy_url, auth, CHAT))
            cpu += cpu_seconds(pid) - before
        report("non-streaming chat completion", direct, proxied)
        print(f"  service CPU per proxied call: {cpu / len(proxied) * 1e6:.0f} µs "
              f"(clock tick {1e6 / TICK:.0f} µs, summed over {len(proxied)} calls)")
        body, gap = {**CHAT, "stream": True}, {"x-stub-gap-ms": "20"}
        direct, proxied = [], []
        for _ in range(args.streams):
            direct.append(await first_byte(s, direct_url, gap, body))
            proxied.append(await first_byte(s, proxy_url, {**auth, **gap}, body))
        report("streamed chat completion, time to first byte", direct, proxied)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--exporter", default="clickhouse", choices=["clickhouse", "nop"],
                    help="nop: leave out the store, to see the proxy path alone")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="proxy-bench-"))
    enc = base64.b64encode(os.urandom(32)).decode()
    store = KeyStore(str(tmp / "keystore.db"))
    raw, info = store.create_key("bench")
    ProviderKeys(store).add(info.id, "openai", crypto.encrypt(crypto.parse_key(enc), "sk-bench-0123456789abcdef"))
    store.close()
    port, stub_port = free_port(), free_port()
    stub_url = f"http://127.0.0.1:{stub_port}"
    exporter_yaml = "nop:" if args.exporter == "nop" else "clickhouse:"
    (tmp / "bench.yaml").write_text(f"""
extensions:
  storage: {{endpoint: "chdb://{tmp}/clickhouse"}}
  keystore: {{path: {tmp}/keystore.db, bootstrap_default_key: false}}
receivers:
  proxy:
    endpoint: 127.0.0.1:{port}
    providers: {{openai: {{api_base: {stub_url}/openai}}}}
processors:
  auth:
  cost:
  truncation:
exporters:
  {exporter_yaml}
service:
  extensions: [storage, keystore]
  pipelines:
    traces: {{receivers: [proxy], processors: [auth, cost, truncation], exporters: [{args.exporter}]}}
""")
    stub = subprocess.Popen([sys.executable, "-c", STUB.format(port=stub_port)], cwd=REPO)
    proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run", "--config", str(tmp / "bench.yaml")],
                            cwd=REPO, env={**os.environ, crypto.ENV_VAR: enc}, stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        wait_http(f"{stub_url}/openai/v1/models")
        asyncio.run(run(args, port, stub_url, raw, proc.pid))
    finally:
        proc.terminate()
        proc.wait(60)
        stub.terminate()
        stub.wait(10)


if __name__ == "__main__":
    main()
