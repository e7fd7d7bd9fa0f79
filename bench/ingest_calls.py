"""Native ingest calls/s: the call sequence of a Spanlens SDK from closed-loop clients, against
the same server with a nop exporter, measured in one run.

    python bench/ingest_calls.py [--duration 20] [--clients 50] [--spans-per-trace 3]

Each client repeats one trace as the SDK sends it: ``POST /ingest/traces``, then per span
``POST /ingest/traces/{id}/spans`` and ``PATCH /ingest/spans/{id}`` (end with tokens and
output), then ``PATCH /ingest/traces/{id}``, each call after the last one's answer. The
service runs on a copy of the default config (fresh data directory, free ports); the load
generator is aiohttp with pre-encoded JSON. Prints calls/s, p50/p99/p99.9 latency and the
server's CPU per call (utime+stime from /proc over load and drain), and checks through the
read-only SQL endpoint that every trace and span was stored once, ended, once the stored
rows stop growing.
"""
from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import orjson
from _common import Service, cpu_seconds, machine, pct, peak_rss_mib, settle

STARTED, ENDED = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"


@dataclass
class Load:
    calls: int = 0
    traces: int = 0
    spans: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    generator_cpu: float = 0.0


async def one_trace(s: aiohttp.ClientSession, url: str, headers: dict, spans: int, load: Load) -> None:
    async def call(method: str, path: str, body: dict) -> None:
        t = time.perf_counter()
        async with s.request(method, url + path, data=orjson.dumps(body), headers=headers) as r:
            await r.read()
        load.latencies.append(time.perf_counter() - t)
        load.calls += 1
        if r.status not in (200, 201):
            load.errors[f"{method} {r.status}"] = load.errors.get(f"{method} {r.status}", 0) + 1

    trace = str(uuid.uuid4())
    await call("POST", "/ingest/traces", {"id": trace, "name": "bench", "started_at": STARTED,
                                          "metadata": {"user": "u_1"}})
    for _ in range(spans):
        span = str(uuid.uuid4())
        await call("POST", f"/ingest/traces/{trace}/spans", {"id": span, "name": "generation", "span_type": "llm",
                                                             "started_at": STARTED, "input": {"q": "why"}})
        await call("PATCH", f"/ingest/spans/{span}", {"status": "completed", "ended_at": ENDED, "output": "answer",
                                                      "prompt_tokens": 120, "completion_tokens": 30,
                                                      "total_tokens": 150, "cost_usd": 0.0023})
        load.spans += 1
    await call("PATCH", f"/ingest/traces/{trace}", {"status": "completed", "ended_at": ENDED})
    load.traces += 1


async def closed_loop(url: str, key: str, clients: int, spans: int, seconds: float) -> Load:
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    load = Load()
    connector = aiohttp.TCPConnector(limit=clients, keepalive_timeout=3)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as s:
        end = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < end:  # a started trace is finished, so every count is whole
                await one_trace(s, url, headers, spans, load)

        cpu, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        load.seconds, load.generator_cpu = time.perf_counter() - t0, time.process_time() - cpu
    return load


def run(exporter: str, args) -> tuple[Load, float, float, float, dict[str, int]]:
    """The load, drain seconds, server CPU seconds, peak RSS, and what the store holds."""
    with Service(exporter=exporter) as svc:
        asyncio.run(closed_loop(svc.url, svc.key, args.clients, args.spans_per_trace, args.warmup))
        spans_q = "SELECT count() FROM spans FINAL"  # a create and its end are two rows until merged
        before = settle(lambda: svc.count(spans_q), 1 << 62, quiet=2)[0] if exporter != "nop" else 0
        traces_before = svc.count("SELECT count() FROM trace_meta FINAL") if exporter != "nop" else 0
        cpu0 = cpu_seconds(svc.pid)
        load = asyncio.run(closed_loop(svc.url, svc.key, args.clients, args.spans_per_trace, args.duration))
        drain, stored = 0.0, {}
        if exporter != "nop":
            drain = settle(lambda: svc.count(spans_q) - before, load.spans, quiet=args.quiet)[1]
            stored = {
                "spans": svc.count(spans_q) - before,
                "ended": svc.count("SELECT countIf(end_time IS NOT NULL) FROM spans FINAL") - before,
                "traces": svc.count("SELECT count() FROM trace_meta FINAL") - traces_before,
                "completed": svc.count("SELECT countIf(status = 'completed') FROM trace_meta FINAL") - traces_before,
            }
        cpu = cpu_seconds(svc.pid) - cpu0
        rss = peak_rss_mib(svc.pid)
    return load, drain, cpu, rss, stored


def report(name: str, load: Load, drain: float, cpu: float, rss: float) -> None:
    lat = load.latencies
    print(f"  {name:<6} {load.calls / load.seconds:>7,.0f} calls/s  p50 {1000 * pct(lat, .5):6.1f} ms  "
          f"p99 {1000 * pct(lat, .99):6.1f} ms  p99.9 {1000 * pct(lat, .999):6.1f} ms  "
          f"server CPU {cpu / max(1, load.calls) * 1e6:6.0f} µs/call  peak RSS {rss:4.0f} MiB  "
          f"load-generator CPU {load.generator_cpu / load.seconds:4.0%}"
          + (f"  drain {drain:.1f} s" if drain else "")
          + (f"  errors {load.errors}" if load.errors else ""), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=20, help="seconds of load per run")
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--spans-per-trace", type=int, default=3)
    ap.add_argument("--quiet", type=float, default=5, help="stored rows unchanged this long: drained")
    args = ap.parse_args()
    print(f"{machine()}; default config; {args.clients} closed-loop clients, "
          f"{2 + 2 * args.spans_per_trace} calls per trace, {args.duration:.0f} s per run", flush=True)
    load, drain, cpu, rss, stored = run("clickhouse", args)
    report("store", load, drain, cpu, rss)
    expected = {"spans": load.spans, "ended": load.spans, "traces": load.traces, "completed": load.traces}
    verdict = "every call's data stored once" if stored == expected else f"MISMATCH: expected {expected}"
    print(f"         stored {stored}: {verdict}", flush=True)
    ceiling, _, ncpu, nrss, _ = run("nop", args)
    report("nop", ceiling, 0.0, ncpu, nrss)
    rate = load.calls / (load.seconds + drain)
    print(f"ingest calls: {rate:,.0f} calls/s stored (p99 {1000 * pct(load.latencies, .99):.1f} ms), "
          f"ceiling {ceiling.calls / ceiling.seconds:,.0f} calls/s, ratio {rate / (ceiling.calls / ceiling.seconds):.2f}")


if __name__ == "__main__":
    main()
