"""The bulk OTLP insert against the record path, in one process on one embedded store.

    python bench/bulk_insert.py [--requests 100] [--per-request 500] [--repeat 2]

The same requests (``otlp_ingest``'s gen_ai chat spans, ~1 KB each) are stored through
the record path (the OTLP receiver's decoder, the default pipeline's span processors, the
exporter's JSON encoding, one insert of all rows, as the writer groups them) and through
``insert_otlp`` (one insert of all entries), each into a fresh database. Printed per run:
process CPU time per span (all threads, chdb's included) and stored rows per second of
wall time; then the ratio. Timings are figures, not assertions.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from otlp_ingest import build_body  # noqa: E402

from spanlens_pipeline.component import Processor, Settings  # noqa: E402
from spanlens_pipeline.exporters.clickhouse.bulk import OtlpEntry, insert_otlp  # noqa: E402
from spanlens_pipeline.exporters.clickhouse.exporter import encode_spans  # noqa: E402
from spanlens_pipeline.extensions.storage import Config as StorageConfig  # noqa: E402
from spanlens_pipeline.extensions.storage import StorageExtension, Store, schema  # noqa: E402
from spanlens_pipeline.limits import DEFAULT  # noqa: E402
from spanlens_pipeline.model import SPAN_COLUMNS, RequestContext, Tenant  # noqa: E402
from spanlens_pipeline.processors import auth, cost, genai, parent_link, truncation  # noqa: E402
from spanlens_pipeline.receivers.otlp.decode_pb import decode  # noqa: E402


class _Host:
    def __init__(self, storage: StorageExtension) -> None:
        self.storage = storage

    def extension(self, component_id: str) -> StorageExtension:
        return self.storage


def pipeline(path: str) -> list[Processor]:
    """The default pipeline's span processors (auth, genai, parent_link, cost, truncation), started."""
    storage = StorageExtension(Settings("storage", logging.getLogger("bench")), StorageConfig(endpoint=f"chdb://{path}"))
    procs: list[Processor] = []
    for mod in (auth, genai, parent_link, cost, truncation):
        f = mod.factory
        procs.append(f.create(Settings(f.type, logging.getLogger(f.type)), f.config()))

    async def start() -> None:
        await storage.start(_Host(storage))  # type: ignore[arg-type]
        for p in procs[1:]:
            await p.start(_Host(storage))  # type: ignore[arg-type]
    asyncio.run(start())
    return procs


def record_path(store: Store, db: str, procs: list[Processor], entries: list[OtlpEntry],
                settings: dict | None) -> int:
    async def run() -> list:
        spans = []
        for e in entries:
            batch = decode(e.body, DEFAULT)
            ctx = RequestContext(headers={}, tenant=Tenant(e.organization_id, e.project_id, "p", "k", "sl_live_x", "full"))
            for p in procs:
                batch = await p.process(batch, ctx)
            spans.extend(batch.spans)
        return spans
    spans = asyncio.run(run())
    store.insert_json(f"{db}.spans", SPAN_COLUMNS, encode_spans(spans), settings=settings)
    return len(spans)


def measure(name: str, fn) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    n = fn()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    us, rate = cpu / n * 1e6, n / wall
    print(f"{name:42s} {n:7d} spans  {us:7.1f} CPU µs/span  {rate:9.0f} rows/s", flush=True)
    return us, rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--per-request", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    path = tempfile.mkdtemp(prefix="spanlens-bench-bulk-")
    procs = pipeline(path)
    steps = [s for s in (p.bulk_sql() for p in procs) if s is not None]
    store = Store(f"chdb://{path}")
    rng = random.Random(7)
    bodies = [build_body(rng, args.per_request) for _ in range(args.requests)]
    entries = [OtlpEntry("org-bench", "project-bench", time.time_ns(), b) for b in bodies]
    print(f"{args.requests} requests x {args.per_request} spans, {sum(map(len, bodies)) / 1e6:.1f} MB of protobuf")
    figures: dict[str, list[tuple[float, float]]] = {}
    runs = {
        "record path": lambda db: record_path(store, db, procs, entries, None),
        "record path, optimize_on_insert=0": lambda db: record_path(store, db, procs, entries, {"optimize_on_insert": 0}),
        "insert_otlp, optimize_on_insert=1": lambda db: insert_otlp(store, db, entries, steps,
                                                                   settings={"optimize_on_insert": 1}),
        "insert_otlp (optimize_on_insert=0)": lambda db: insert_otlp(store, db, entries, steps),
    }
    for i in range(args.repeat):
        for name, fn in runs.items():
            db = f"bench_{i}_{len(figures.get(name, []))}_{abs(hash(name)) % 10**6}"
            schema.migrate(store, db)
            figures.setdefault(name, []).append(measure(name, lambda: fn(db)))  # noqa: B023
    best = {name: (min(u for u, _ in f), max(r for _, r in f)) for name, f in figures.items()}
    rec, bulk = best["record path"], best["insert_otlp (optimize_on_insert=0)"]
    print(f"bulk insert: {bulk[0]:.1f} CPU µs/span vs {rec[0]:.1f} on the record path "
          f"(CPU ratio bulk/record {bulk[0] / rec[0]:.2f}), {bulk[1]:.0f} vs {rec[1]:.0f} rows/s "
          f"(rate ratio bulk/record {bulk[1] / rec[1]:.2f})")


if __name__ == "__main__":
    main()
