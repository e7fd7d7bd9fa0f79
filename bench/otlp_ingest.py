"""OTLP protobuf ingest: acknowledged and stored spans/s of the real service, against the same
server with a nop exporter (its ceiling), measured in one run.

    python bench/otlp_ingest.py [--duration 20] [--clients 8,64] [--spans 500,1000]
    python bench/otlp_ingest.py --soak 600 [--fraction 0.8]

For each case (clients x spans per request) a fresh service runs on a copy of the default
config (its own data directory and ports): first with its exporters, then with ``nop``.
Closed-loop aiohttp clients post pre-built ``ExportTraceServiceRequest`` bodies of gen_ai
spans (~1 KB each) for ``--duration`` seconds; each body is stamped with a fresh trace id
prefix, so every span sent is distinct. Then the spans in ``spanlens.spans`` are counted
through the service's read-only SQL endpoint until they reach the acknowledged count or
stop growing (a service that acknowledges before storing drains meanwhile):

- acknowledged spans/s: spans in 200 answers / load time;
- stored spans/s: spans counted / (load time + drain time);
- p50/p99 ack latency, peak RSS of the service (VmHWM), server CPU per stored span
  (utime+stime of the service over load and drain);
- the ceiling: acknowledged spans/s of the nop server, and stored / ceiling.

The last line is the heaviest case (the most clients with the largest requests; 64 x 1,000
by default). ``--soak`` instead runs the service at a fraction of its stored capacity
(measured first, or ``--rate``) and samples RSS every ``--sample`` seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import time
from dataclasses import dataclass, field

import aiohttp
from _common import Service, cpu_seconds, machine, pct, peak_rss_mib, rss_mib, settle
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "lambda", "theta", "zeta"]


def _kv(k, v):
    if isinstance(v, int):
        return KeyValue(key=k, value=AnyValue(int_value=v))
    if isinstance(v, float):
        return KeyValue(key=k, value=AnyValue(double_value=v))
    if isinstance(v, list):
        return KeyValue(key=k, value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=x) for x in v])))
    return KeyValue(key=k, value=AnyValue(string_value=v))


@dataclass
class Body:
    """A serialized request whose trace ids start at ``offsets``; ``stamp`` makes a distinct copy."""

    template: bytes
    offsets: list[int]
    spans: int

    def stamp(self, n: int) -> bytes:
        buf = bytearray(self.template)
        prefix = struct.pack(">Q", n)
        for off in self.offsets:
            buf[off:off + 8] = prefix
        return bytes(buf)


def build_body(rng: random.Random, n: int) -> Body:
    """n gen_ai chat spans in traces of 10 (1 root + 9 children), ~1 KB each."""
    spans, traces, t0 = [], [], time.time_ns()
    for i in range(n):
        if i % 10 == 0:
            trace, root = rng.randbytes(16), rng.randbytes(8)
            traces.append(trace)
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
    data = req.SerializeToString()
    offsets = []
    for trace in traces:
        at = data.find(trace)
        while at != -1:
            offsets.append(at)
            at = data.find(trace, at + 16)
    assert len(offsets) == n, "every span's trace id is stamped"
    return Body(data, offsets, n)


@dataclass
class Load:
    acked: int = 0
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int | str, int] = field(default_factory=dict)
    generator_cpu: float = 0.0


class Sender:
    """Posts stamped bodies; the stamp counter is shared, so no two requests repeat a trace id."""

    def __init__(self, url: str, key: str, bodies: list[Body], connections: int) -> None:
        self.url, self.bodies, self.n = f"{url}/v1/traces", bodies, random.getrandbits(40) << 20
        self.headers = {"content-type": "application/x-protobuf", "authorization": f"Bearer {key}"}
        self.connections = connections

    def next_body(self) -> tuple[bytes, int]:
        self.n += 1
        body = self.bodies[self.n % len(self.bodies)]
        return body.stamp(self.n), body.spans

    async def post(self, session: aiohttp.ClientSession, load: Load) -> None:
        data, spans = self.next_body()
        t = time.perf_counter()
        try:
            async with session.post(self.url, data=data, headers=self.headers) as r:
                await r.read()
            status: int | str = r.status
        except (aiohttp.ClientError, OSError) as exc:  # counted, not fatal: a reset is a finding
            status = type(exc).__name__
        load.latencies.append(time.perf_counter() - t)
        load.statuses[status] = load.statuses.get(status, 0) + 1
        load.requests += 1
        if status == 200:
            load.acked += spans

    def session(self) -> aiohttp.ClientSession:
        # Idle connections are dropped before the service's keep-alive timeout (5 s) could close them.
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.connections, keepalive_timeout=3),
                                     timeout=aiohttp.ClientTimeout(total=300))

    async def closed_loop(self, clients: int, seconds: float) -> Load:
        """``clients`` connections, each posting as soon as its last answer came."""
        load = Load()
        async with self.session() as session:
            end = time.perf_counter() + seconds

            async def client() -> None:
                while time.perf_counter() < end:
                    await self.post(session, load)

            cpu, t0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(client() for _ in range(clients)))
            load.seconds, load.generator_cpu = time.perf_counter() - t0, time.process_time() - cpu
        return load

    async def open_loop(self, rate: float, seconds: float, on_tick) -> Load:
        """Requests started at ``rate`` per second (at most ``connections`` at once)."""
        load, gate = Load(), asyncio.Semaphore(self.connections)
        async with self.session() as session:
            t0 = time.perf_counter()
            tasks: set[asyncio.Task] = set()

            async def one() -> None:
                try:
                    await self.post(session, load)
                finally:
                    gate.release()

            i = 0
            while (now := time.perf_counter()) < t0 + seconds:
                on_tick(now - t0)
                due = t0 + i / rate
                if due > now:
                    await asyncio.sleep(min(due - now, 0.5))
                    continue
                await gate.acquire()
                task = asyncio.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            await asyncio.gather(*tasks)
            load.seconds = time.perf_counter() - t0
        return load


@dataclass
class Result:
    load: Load
    stored: int = 0
    drain: float = 0.0
    cpu: float = 0.0
    peak_rss: float = 0.0

    @property
    def ack_rate(self) -> float:
        return self.load.acked / self.load.seconds

    @property
    def stored_rate(self) -> float:
        return self.stored / (self.load.seconds + self.drain)


def run_case(exporter: str, bodies: list[Body], clients: int, args) -> Result:
    with Service(exporter=exporter) as svc:
        sender = Sender(svc.url, svc.key, bodies, clients)
        asyncio.run(sender.closed_loop(clients, args.warmup))  # warm-up: its spans are counted out below
        stored_before = settle(lambda: svc.count("SELECT count() FROM spans FINAL"), 1 << 62, quiet=2)[0] \
            if exporter != "nop" else 0
        cpu0 = cpu_seconds(svc.pid)
        load = asyncio.run(sender.closed_loop(clients, args.duration))
        result = Result(load)
        if exporter != "nop":
            count, result.drain = settle(lambda: svc.count("SELECT count() FROM spans") - stored_before,
                                         load.acked, quiet=args.quiet)
            result.stored = svc.count("SELECT count() FROM spans FINAL") - stored_before
            if count != result.stored:
                print(f"  note: {count - result.stored} rows collapsed by FINAL (a span stored twice)")
        result.cpu = cpu_seconds(svc.pid) - cpu0
        result.peak_rss = peak_rss_mib(svc.pid)
    return result


def line(name: str, r: Result) -> str:
    lat = r.load.latencies
    per_span = r.cpu / max(1, r.stored or r.load.acked) * 1e6
    text = (f"  {name:<9} acked {r.ack_rate:>9,.0f} spans/s  p50 {1000 * pct(lat, .5):7.1f} ms  "
            f"p99 {1000 * pct(lat, .99):7.1f} ms  peak RSS {r.peak_rss:6.0f} MiB  "
            f"server CPU {per_span:5.1f} µs/span  load-generator CPU {r.load.generator_cpu / r.load.seconds:4.0%}")
    if name != "nop":
        text += f"\n  {'':<9} stored {r.stored_rate:>8,.0f} spans/s  ({r.stored:,} of {r.load.acked:,} acked, " \
                f"drain {r.drain:.1f} s after {r.load.seconds:.1f} s of load)"
    if set(r.load.statuses) != {200}:
        text += f"\n  {'':<9} statuses {r.load.statuses}"
    return text


def soak(bodies: list[Body], clients: int, args) -> None:
    rate = args.rate
    if not rate:
        print(f"capacity: {clients} clients x {bodies[0].spans} spans for {args.duration:.0f} s ...", flush=True)
        rate = run_case("clickhouse", bodies, clients, args).stored_rate
    target = args.fraction * rate
    print(f"soak: {target:,.0f} spans/s ({args.fraction:.0%} of {rate:,.0f}) for {args.soak:.0f} s, "
          f"RSS every {args.sample:.0f} s", flush=True)
    with Service() as svc:
        sender = Sender(svc.url, svc.key, bodies, clients)
        samples: list[tuple[float, float]] = []

        def on_tick(t: float) -> None:
            if not samples or t - samples[-1][0] >= args.sample:
                samples.append((t, rss_mib(svc.pid)))
                print(f"  {t:6.0f} s  RSS {samples[-1][1]:7.1f} MiB", flush=True)

        load = asyncio.run(sender.open_loop(target / bodies[0].spans, args.soak, on_tick))
        samples.append((load.seconds, rss_mib(svc.pid)))
    print(f"  sent {load.acked / load.seconds:,.0f} spans/s acknowledged, p99 {1000 * pct(load.latencies, .99):.1f} ms,"
          f" statuses {load.statuses}")
    # Flat: the last quarter's RSS within 10% of the second quarter's (the first is warm-up).
    q = max(1, len(samples) // 4)
    early = sum(s for _, s in samples[q:2 * q]) / q
    late = sum(s for _, s in samples[-q:]) / q
    verdict = "flat" if late <= early * 1.10 else "GROWING"
    print(f"soak: RSS {verdict}: {early:.0f} MiB in the second quarter, {late:.0f} MiB in the last "
          f"({late - early:+.0f} MiB), peak {max(s for _, s in samples):.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=20, help="seconds of load per case")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of load before each measured run")
    ap.add_argument("--clients", default="8,64", help="concurrent clients, comma-separated")
    ap.add_argument("--spans", default="500,1000", help="spans per request, comma-separated")
    ap.add_argument("--quiet", type=float, default=5, help="stored rows unchanged this long: drained")
    ap.add_argument("--soak", type=float, default=0, help="seconds of a soak run instead of the cases")
    ap.add_argument("--fraction", type=float, default=0.8, help="soak load as a fraction of capacity")
    ap.add_argument("--rate", type=float, default=0, help="soak load capacity in spans/s (default: measured)")
    ap.add_argument("--sample", type=float, default=5, help="soak RSS sampling interval, seconds")
    args = ap.parse_args()
    clients = sorted(int(x) for x in args.clients.split(","))
    sizes = sorted(int(x) for x in args.spans.split(","))
    rng = random.Random(7)
    bodies = {n: [build_body(rng, n) for _ in range(8)] for n in sizes}
    print(f"{machine()}; default config; "
          f"{len(bodies[sizes[0]][0].template) / sizes[0]:.0f} B/span; {args.duration:.0f} s per run", flush=True)
    if args.soak:
        soak(bodies[max(sizes)], max(clients), args)
        return
    heaviest = None
    for n in sizes:
        for c in clients:
            print(f"{c} clients x {n} spans/request", flush=True)
            stored = run_case("clickhouse", bodies[n], c, args)
            print(line("store", stored), flush=True)
            ceiling = run_case("nop", bodies[n], c, args)
            print(line("nop", ceiling), flush=True)
            print(f"  stored / ceiling = {stored.stored_rate / ceiling.ack_rate:.2f}", flush=True)
            heaviest = (stored, ceiling)
    assert heaviest is not None
    stored, ceiling = heaviest  # the last case run: the most clients with the largest requests
    print(f"at the end: {machine()}")
    print(f"ingest: {stored.ack_rate:,.0f} spans/s acknowledged, {stored.stored_rate:,.0f} spans/s stored, "
          f"ceiling {ceiling.ack_rate:,.0f} spans/s, ratio {stored.stored_rate / ceiling.ack_rate:.2f}")


if __name__ == "__main__":
    main()
