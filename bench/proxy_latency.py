"""Proxy added latency: the same local stub upstream called directly and through the proxy.

Starts the stub upstream (in this process) and the service (a subprocess, embedded
store in a temporary directory), then alternates direct and proxied calls so both see
the same conditions, and prints p50/p99 of each and the difference. For streams it
compares the time to the first byte. Targets (DESIGN §6): added p50 ≤ 1 ms, p99 ≤ 5 ms,
first streamed byte not delayed.

    python bench/proxy_latency.py [--requests 2000] [--streams 200]
"""
from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spanlens_pipeline.extensions.keystore import KeyStore, crypto  # noqa: E402
from spanlens_pipeline.extensions.keystore.provider_keys import ProviderKeys  # noqa: E402
from tests.support.running import free_port, wait_http  # noqa: E402
from tests.support.stub_upstream import StubUpstream  # noqa: E402

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def timed_post(client: httpx.Client, url: str, headers: dict, body: dict) -> float:
    t = time.perf_counter()
    r = client.post(url, json=body, headers=headers)
    r.raise_for_status()
    return (time.perf_counter() - t) * 1000


def first_byte(client: httpx.Client, url: str, headers: dict, body: dict) -> float:
    t = time.perf_counter()
    elapsed = 0.0
    with client.stream("POST", url, json=body, headers=headers) as r:
        for _ in r.iter_raw():
            elapsed = elapsed or (time.perf_counter() - t) * 1000
    return elapsed


def report(name: str, direct: list[float], proxied: list[float]) -> None:
    print(f"{name}: n={len(direct)}")
    for label, p in (("p50", 0.50), ("p99", 0.99)):
        d, x = pct(direct, p), pct(proxied, p)
        print(f"  {label}: direct {d:7.3f} ms   proxied {x:7.3f} ms   added {x - d:7.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--exporter", default="clickhouse", choices=["clickhouse", "nop"],
                    help="nop: leave out the store, to see the proxy path alone")
    args = ap.parse_args()
    stub = StubUpstream().start()
    tmp = Path(tempfile.mkdtemp(prefix="proxy-bench-"))
    enc = base64.b64encode(os.urandom(32)).decode()
    store = KeyStore(str(tmp / "keystore.db"))
    raw, info = store.create_key("bench")
    ProviderKeys(store).add(info.id, "openai", crypto.encrypt(crypto.parse_key(enc), "sk-bench-0123456789abcdef"))
    store.close()
    port = free_port()
    exporter_yaml = "nop:" if args.exporter == "nop" else "clickhouse:"
    (tmp / "bench.yaml").write_text(f"""
extensions:
  storage: {{endpoint: "chdb://{tmp}/clickhouse"}}
  keystore: {{path: {tmp}/keystore.db, bootstrap_default_key: false}}
receivers:
  proxy:
    endpoint: 127.0.0.1:{port}
    providers: {{openai: {{api_base: {stub.url}/openai}}}}
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
    proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run", "--config", str(tmp / "bench.yaml")],
                            cwd=REPO, env={**os.environ, crypto.ENV_VAR: enc}, stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        direct_url = f"{stub.url}/openai/v1/chat/completions"
        proxy_url = f"http://127.0.0.1:{port}/proxy/openai/v1/chat/completions"
        auth = {"authorization": f"Bearer {raw}"}
        with httpx.Client(timeout=30) as c:
            for _ in range(50):  # warm up both paths
                timed_post(c, direct_url, {}, CHAT)
                timed_post(c, proxy_url, auth, CHAT)
            direct, proxied = [], []
            for _ in range(args.requests):
                direct.append(timed_post(c, direct_url, {}, CHAT))
                proxied.append(timed_post(c, proxy_url, auth, CHAT))
            report("non-streaming chat completion", direct, proxied)
            body, gap = {**CHAT, "stream": True}, {"x-stub-gap-ms": "20"}
            direct, proxied = [], []
            for _ in range(args.streams):
                direct.append(first_byte(c, direct_url, gap, body))
                proxied.append(first_byte(c, proxy_url, {**auth, **gap}, body))
            report("streamed chat completion, time to first byte", direct, proxied)
    finally:
        proc.terminate()
        proc.wait(60)
        stub.stop()


if __name__ == "__main__":
    main()
