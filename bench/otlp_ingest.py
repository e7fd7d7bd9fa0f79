"""OTLP protobuf ingest throughput: the real service into the embedded store, against the same
server with a null exporter (the parse-only ceiling), measured in one run.

    python bench/otlp_ingest.py [--spans 200000] [--per-request 500] [--concurrency 8]

Each configuration runs in a fresh service subprocess (its own data directory); this
process is the load generator (on the same machine, so both share its cores). A request
counts once the service answered 200, which for the ClickHouse exporter means the spans
are stored. Bodies are pre-built and sent round-robin, so spans repeat; the store run ends
by checking that every distinct span sent is in the table exactly once (read with FINAL).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

REPO = Path(__file__).resolve().parents[1]
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "lambda", "theta", "zeta"]

CONFIG = """
extensions:
  storage: {{endpoint: "chdb://{data}/clickhouse"}}
  keystore: {{path: {data}/keystore.db, bootstrap_default_key: false}}
receivers:
  otlp: {{endpoint: "127.0.0.1:{port}"}}
processors:
  auth:
{extra_processors}
exporters:
  {exporter}
service:
  extensions: [storage, keystore]
  pipelines:
    traces: {{receivers: [otlp], processors: [{processors}], exporters: [{exporter_id}]}}
"""


def _kv(k, v):
    if isinstance(v, int):
        return KeyValue(key=k, value=AnyValue(int_value=v))
    if isinstance(v, float):
        return KeyValue(key=k, value=AnyValue(double_value=v))
    if isinstance(v, list):
        return KeyValue(key=k, value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=x) for x in v])))
    return KeyValue(key=k, value=AnyValue(string_value=v))


def build_body(rng: random.Random, n: int) -> bytes:
    """n gen_ai chat spans in traces of 10 (1 root + 9 children), ~1 KB each."""
    spans, t0 = [], time.time_ns()
    for i in range(n):
        if i % 10 == 0:
            trace, root = rng.randbytes(16), rng.randbytes(8)
        text = " ".join(rng.choice(WORDS) for _ in range(60))
        start = t0 + rng.randrange(10**9)
        spans.append(Span(
            trace_id=trace, span_id=root if i % 10 == 0 else rng.randbytes(8),
            parent_span_id=b"" if i % 10 == 0 else root, name="chat gpt-4o-mini", kind=3,
            start_time_unix_nano=start, end_time_unix_nano=start + rng.randrange(10**8, 10**9),
            attributes=[_kv("gen_ai.operation.name", "chat"), _kv("gen_ai.provider.name", "openai"),
                        _kv("gen_ai.request.model", "gpt-4o-mini"), _kv("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                        _kv("gen_ai.response.id", rng.randbytes(8).hex()), _kv("gen_ai.response.finish_reasons", ["stop"]),
                        _kv("gen_ai.request.temperature", 0.2), _kv("gen_ai.usage.input_tokens", 1000),
                        _kv("gen_ai.usage.output_tokens", 500), _kv("server.address", "api.openai.com"),
                        _kv("gen_ai.input.messages", json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}]))]))
    req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=[_kv("service.name", "bench")]),
        scope_spans=[ScopeSpans(scope=InstrumentationScope(name="bench"), spans=spans)])])
    return req.SerializeToString()


def start_service(exporter: str, processors: list[str], data: str, port: int) -> subprocess.Popen:
    exporter_yaml = {"nop": "nop:", "clickhouse": "clickhouse:"}[exporter]
    extra = "".join(f"  {p}:\n" for p in processors[1:])
    cfg = Path(data) / "config.yaml"
    cfg.write_text(CONFIG.format(data=data, port=port, exporter=exporter_yaml, exporter_id=exporter,
                                 processors=", ".join(processors), extra_processors=extra))
    proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run", "--config", str(cfg)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"service did not start: {proc.stderr.read().decode()[-2000:]}")


def create_key(data: str) -> str:
    sys.path.insert(0, str(REPO))
    from spanlens_pipeline.extensions.keystore import KeyStore
    store = KeyStore(f"{data}/keystore.db")
    try:
        return store.create_key("bench")[0]
    finally:
        store.close()


async def load(url: str, key: str, bodies: list[bytes], per_request: int, total: int, concurrency: int) -> dict:
    headers = {"content-type": "application/x-protobuf", "authorization": f"Bearer {key}"}
    todo = total // per_request
    sent, acked, latencies, statuses = 0, 0, [], {}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal sent, acked
        while sent < todo:
            body = bodies[sent % len(bodies)]
            sent += 1
            t = time.perf_counter()
            r = await client.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - t)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 200:
                acked += per_request

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"spans_per_s": acked / elapsed, "acked_spans": acked, "seconds": elapsed, "statuses": statuses,
            "p50_ms": 1000 * latencies[len(latencies) // 2], "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)]}


def run_config(name: str, exporter: str, processors: list[str], bodies, args) -> dict:
    with tempfile.TemporaryDirectory() as data:
        port = 20000 + random.randrange(20000)
        key = create_key(data)
        proc = start_service(exporter, processors, data, port)
        try:
            asyncio.run(load(f"http://127.0.0.1:{port}/v1/traces", key, bodies, args.per_request,
                             min(args.spans, 20 * args.per_request), args.concurrency))  # warm-up
            result = asyncio.run(load(f"http://127.0.0.1:{port}/v1/traces", key, bodies, args.per_request,
                                      args.spans, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(120)
        if exporter == "clickhouse":
            out = subprocess.run([sys.executable, "-m", "spanlens_pipeline", "sql", "--config", f"{data}/config.yaml",
                                  "SELECT count() AS n FROM spanlens.spans FINAL"], cwd=REPO, capture_output=True,
                                 text=True)
            result["stored_rows"] = json.loads(out.stdout.splitlines()[0])["n"] if out.returncode == 0 else out.stderr
    print(f"{name:<28} {result['spans_per_s']:>10,.0f} spans/s  p50 {result['p50_ms']:6.1f} ms  "
          f"p99 {result['p99_ms']:6.1f} ms  statuses {result['statuses']}"
          + (f"  stored rows {result['stored_rows']}" if "stored_rows" in result else ""), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--per-request", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--processors", default="auth", help="comma-separated processor chain (auth first)")
    args = ap.parse_args()
    rng = random.Random(7)
    bodies = [build_body(rng, args.per_request) for _ in range(16)]
    print(f"{args.spans:,} spans, {args.per_request} per request ({len(bodies[0]) / args.per_request:.0f} B/span), "
          f"concurrency {args.concurrency}, processors {args.processors}, {os.cpu_count()} cores", flush=True)
    processors = args.processors.split(",")
    ceiling = run_config("parse-only (nop exporter)", "nop", processors, bodies, args)
    stored = run_config("embedded store (chdb)", "clickhouse", processors, bodies, args)
    print(f"store / ceiling = {stored['spans_per_s'] / ceiling['spans_per_s']:.0%}")
    # The bodies are sent round-robin, so the store holds each distinct span once.
    distinct = min(len(bodies), max(1, args.spans // args.per_request)) * args.per_request
    if stored.get("stored_rows") != distinct:
        print(f"ERROR: {stored.get('stored_rows')} distinct spans stored, {distinct} sent")


if __name__ == "__main__":
    main()
