"""Proxy added latency: the same local stub upstream called directly and through the proxy,
in one run.

    python bench/proxy_latency.py [--requests 3000] [--streams 300] [--stall-streams 500] [--exporter nop]

The stub upstream (tests/support/stub_upstream.py) and the service (a copy of the default
config with the openai provider pointed at the stub, a stored provider key, a fresh data
directory) each run in a subprocess; this process is only the load generator (aiohttp,
keep-alive, one call at a time for the latency phases). Direct and proxied calls alternate
one by one (which goes first alternates too), so both see the same conditions. Prints:

- non-streamed chat completion: p50/p99/p99.9 of the time to the response headers and to
  the whole answer, direct, proxied and added (also pairwise, call by call);
- streamed chat completion (chunks 20 ms apart): time to the first byte, same figures, and
  the proxied first streamed byte against the proxied non-streamed header;
- the service's CPU per proxied call (utime+stime from /proc over the phase);
- stall check: ``--stall-streams`` concurrent streams, direct then proxied, each chunk
  ``--stall-gap-ms`` apart: the gaps between arrivals, and how many exceed the gap by 50 ms;
- with the store: every proxied call's row in ``spanlens.requests``, counted over SQL.

Targets (DESIGN §6): added p50 ≤ 1 ms, p99 ≤ 5 ms, first streamed byte not later than a
non-streamed header, no added stalls at 500 concurrent streams.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import aiohttp
import httpx
from _common import REPO, Service, cpu_seconds, free_port, machine, pct, quiesce, settle

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}
STUB = ("import time; from tests.support.stub_upstream import StubUpstream; "
        "StubUpstream(port={port}).start(); time.sleep(10**9)")
ENCRYPTION_VAR = "ENCRYPTION_KEY"


@dataclass
class Timing:
    header: float  # ms to the response headers
    first: float  # ms to the first body bytes
    total: float  # ms to the end of the body
    gaps: list[float] = field(default_factory=list)  # ms between body arrivals


async def timed(s: aiohttp.ClientSession, url: str, headers: dict, body: dict) -> Timing:
    t = time.perf_counter()
    async with s.post(url, json=body, headers=headers) as r:
        header = time.perf_counter()
        if r.status != 200:
            raise RuntimeError(f"{url}: {r.status} {await r.text()}")
        arrivals = []
        async for _ in r.content.iter_any():
            arrivals.append(time.perf_counter())
    end = time.perf_counter()
    first = arrivals[0] if arrivals else end
    return Timing((header - t) * 1000, (first - t) * 1000, (end - t) * 1000,
                  [(b - a) * 1000 for a, b in zip(arrivals, arrivals[1:])])


def report(name: str, direct: list[float], proxied: list[float]) -> None:
    added = [x - d for d, x in zip(direct, proxied)]
    print(f"  {name}")
    for label, p in (("p50", 0.50), ("p99", 0.99), ("p99.9", 0.999)):
        d, x = pct(direct, p), pct(proxied, p)
        print(f"    {label:5}: direct {d:7.3f} ms   proxied {x:7.3f} ms   added {x - d:7.3f} ms"
              f"   (pairwise {pct(added, p):7.3f} ms)")


class Bench:
    def __init__(self, args, svc: Service, stub_url: str) -> None:
        self.args, self.svc = args, svc
        self.direct_url = f"{stub_url}/openai/v1/chat/completions"
        self.proxy_url = f"{svc.url}/proxy/openai/v1/chat/completions"
        self.auth = {"authorization": f"Bearer {svc.key}"}
        self.proxied_calls = 0

    async def pairs(self, s: aiohttp.ClientSession, n: int, body: dict, headers: dict) -> tuple[list, list, float]:
        """n direct and n proxied calls, alternating; the service's CPU seconds for them (the
        work it does after the answers included: read once it is idle again)."""
        direct, proxied = [], []
        quiesce(self.svc.pid)
        cpu0 = cpu_seconds(self.svc.pid)
        for i in range(n):
            order = ((self.direct_url, {}, direct), (self.proxy_url, self.auth, proxied))
            for url, auth, out in (order if i % 2 else order[::-1]):
                out.append(await timed(s, url, {**auth, **headers}, body))
        self.proxied_calls += n
        quiesce(self.svc.pid)
        return direct, proxied, cpu_seconds(self.svc.pid) - cpu0

    async def stall(self, url: str, auth: dict) -> tuple[list[float], list[BaseException]]:
        """Concurrent streams on fresh connections (a kept-alive one may have been closed by now)."""
        n, gap = self.args.stall_streams, self.args.stall_gap_ms
        headers = {**auth, "x-stub-gap-ms": str(gap), "x-stub-chunks": str(self.args.stall_chunks)}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         timeout=aiohttp.ClientTimeout(total=120)) as s:
            results = await asyncio.gather(*(timed(s, url, headers, STREAM) for _ in range(n)),
                                           return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        gaps = [g for r in results if isinstance(r, Timing) for g in r.gaps]
        return gaps, failures

    async def run(self) -> None:
        args = self.args
        # Idle connections are dropped before the servers' keep-alive timeout (5 s) could close them.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=3),
                                         timeout=aiohttp.ClientTimeout(total=120)) as s:
            await self.pairs(s, 100, CHAT, {})  # warm-up of both paths
            direct, proxied, cpu = await self.pairs(s, args.requests, CHAT, {})
            print(f"non-streamed chat completion, {len(direct)} calls each way")
            report("headers", [t.header for t in direct], [t.header for t in proxied])
            report("whole answer", [t.total for t in direct], [t.total for t in proxied])
            print(f"  service CPU per proxied call: {cpu / len(proxied) * 1e6:.0f} µs")
            header_added = pct([t.header for t in proxied], .5) - pct([t.header for t in direct], .5)

            sd, sp, scpu = await self.pairs(s, args.streams, STREAM, {"x-stub-gap-ms": "20"})
            print(f"streamed chat completion (chunks 20 ms apart), {len(sd)} calls each way")
            report("first byte", [t.first for t in sd], [t.first for t in sp])
            print(f"  service CPU per proxied stream: {scpu / len(sp) * 1e6:.0f} µs")
            first_added = pct([t.first for t in sp], .5) - pct([t.first for t in sd], .5)
            print(f"  proxied first streamed byte {pct([t.first for t in sp], .5):.3f} ms vs proxied non-streamed "
                  f"header {pct([t.header for t in proxied], .5):.3f} ms (p50; added {first_added:.3f} vs "
                  f"{header_added:.3f} ms)")

            n, gap = args.stall_streams, args.stall_gap_ms
            print(f"stall check: {n} concurrent streams, {args.stall_chunks} chunks {gap} ms apart")
            late = gap + 50
            for name, url, auth in (("direct", self.direct_url, {}), ("proxied", self.proxy_url, self.auth)):
                quiesce(self.svc.pid)
                cpu0 = cpu_seconds(self.svc.pid)
                gaps, failures = await self.stall(url, auth)
                quiesce(self.svc.pid)
                cpu = cpu_seconds(self.svc.pid) - cpu0
                if name == "proxied":
                    self.proxied_calls += n
                print(f"  {name:<8} gaps p50 {pct(gaps, .5):6.1f} ms  p99 {pct(gaps, .99):6.1f} ms  "
                      f"max {max(gaps, default=float('nan')):6.1f} ms  over {late} ms: {sum(g > late for g in gaps)}"
                      f" of {len(gaps)}  failed streams {len(failures)}"
                      + (f"  service CPU {cpu / n * 1e6:.0f} µs/stream" if name == "proxied" else ""), flush=True)
                if failures:
                    print(f"    first failure: {failures[0]!r}")

    def check_stored(self) -> None:
        if self.args.exporter == "nop":
            return
        calls = self.proxied_calls  # the warm-up's included
        count, drain = settle(lambda: self.svc.count("SELECT count() FROM requests FINAL"), calls, quiet=5)
        verdict = "every proxied call logged once" if count == calls else "MISMATCH"
        print(f"stored: {count} rows in spanlens.requests for {calls} proxied calls ({verdict}; drain {drain:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000, help="non-streamed calls each way")
    ap.add_argument("--streams", type=int, default=300, help="streamed calls each way")
    ap.add_argument("--stall-streams", type=int, default=500)
    ap.add_argument("--stall-gap-ms", type=int, default=100)
    ap.add_argument("--stall-chunks", type=int, default=20)
    ap.add_argument("--exporter", default="clickhouse", choices=["clickhouse", "nop"],
                    help="nop: leave out the store, to see the proxy path alone")
    args = ap.parse_args()
    from spanlens_pipeline.extensions.keystore import crypto
    from spanlens_pipeline.extensions.keystore.provider_keys import ProviderKeys

    enc = base64.b64encode(os.urandom(32)).decode()
    stub_port = free_port()
    stub_url = f"http://127.0.0.1:{stub_port}"

    def providers(doc: dict) -> None:
        doc["receivers"]["proxy"]["providers"] = {"openai": {"api_base": f"{stub_url}/openai"}}

    def provider_key(store, info) -> None:
        ProviderKeys(store).add(info.id, "openai", crypto.encrypt(crypto.parse_key(enc), "sk-bench-0123456789abcdef"))

    stub = subprocess.Popen([sys.executable, "-c", STUB.format(port=stub_port)], cwd=REPO)
    try:
        with Service(exporter=args.exporter, edit=providers, setup=provider_key, env={ENCRYPTION_VAR: enc}) as svc:
            deadline = time.time() + 30
            while True:
                try:
                    httpx.get(f"{stub_url}/openai/v1/models", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
            print(f"{machine()}; default config, {args.exporter} exporter; stub upstream in its own process")
            bench = Bench(args, svc, stub_url)
            asyncio.run(bench.run())
            bench.check_stored()
    finally:
        stub.terminate()
        stub.wait(10)


if __name__ == "__main__":
    main()
