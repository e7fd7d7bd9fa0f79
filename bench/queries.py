"""Analytics query latency on a large embedded store: cost by model per day (SQL), one trace
as a tree, the traces list (first page and the next) and stats by model and by day (the
read API's queries), at ``--spans`` rows (default 10 million).

    python bench/queries.py [--spans 10000000] [--projects 10]

Fills a fresh store with synthetic llm spans (traces of 10, ``--projects`` tenants, 30
days) inside the engine, then times each query (median of 7 runs, after one warm-up),
both right after loading (parts not yet merged) and after ``OPTIMIZE … FINAL``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from spanlens_pipeline.extensions.api import reads  # noqa: E402
from spanlens_pipeline.extensions.api.tree import load_trace  # noqa: E402
from spanlens_pipeline.extensions.storage import Store, queries, schema  # noqa: E402

FILL = """
INSERT INTO spanlens.spans (project_id, organization_id, trace_id, span_id, parent_span_id, name, span_type,
    start_time, end_time, status_code, source, provider, operation, request_model, input_tokens, output_tokens,
    total_tokens, cost_usd, cost_source)
SELECT concat('project-', toString(intDiv(number, 10) % {projects})), 'org', lower(hex(MD5(toString(intDiv(number, 10))))),
       lower(hex(substring(MD5(toString(number)), 1, 8))),
       if(number % 10 = 0, NULL, lower(hex(substring(MD5(toString(number - number % 10)), 1, 8)))),
       'chat', 'llm',
       toDateTime64('2026-10-01 00:00:00', 9, 'UTC') + toIntervalSecond(number % 2592000),
       toDateTime64('2026-10-01 00:00:01', 9, 'UTC') + toIntervalSecond(number % 2592000),
       'ok', 'otlp', 'openai', 'chat', ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-pro'][number % 4 + 1],
       1000 + number % 500, 200 + number % 100, 1200 + number % 600,
       toDecimal64((1000 + number % 500) * 0.0000025 + (200 + number % 100) * 0.00001, 12), 'computed'
FROM numbers({spans})
"""

COST_BY_MODEL = """
SELECT toDate(start_time) AS day, request_model, sum(cost_usd) AS cost, sum(input_tokens) AS input, count() AS calls
FROM spanlens.spans FINAL WHERE project_id = 'project-3'
GROUP BY day, request_model ORDER BY day, request_model
"""


def timed(fn, runs: int = 7) -> float:
    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=10_000_000)
    ap.add_argument("--projects", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data:
        store = Store(f"chdb://{data}")
        schema.migrate(store, "spanlens")
        t = time.perf_counter()
        step = 1_000_000
        for offset in range(0, args.spans, step):
            n = min(step, args.spans - offset)
            store.command(FILL.format(projects=args.projects, spans=f"{offset}, {n}"))
        print(f"loaded {args.spans:,} spans in {time.perf_counter() - t:.1f} s", flush=True)
        trace_id = store.query("SELECT trace_id FROM spanlens.spans WHERE project_id = 'project-3' LIMIT 1")[0]["trace_id"]

        def query(name: str, **params):
            return store.query(queries.text(name).replace("{db}", "spanlens"), params)

        def tree():
            found = load_trace(query, "project-3", trace_id)
            assert found is not None and found["span_count"] == 10

        def filtered(name: str, where: str = "1", /, having: str = "1", **params):
            text = queries.text(name).replace("{where}", where).replace("{having}", having)
            return store.query(text.replace("{db}", "spanlens"), params)

        def first_page():
            page = reads.list_traces(filtered, None, ["project-3"], reads.Filters.parse({}))
            assert len(page["data"]) == 50 and page["next_cursor"]
            return page

        cursor = first_page()["next_cursor"]

        def next_page():
            assert len(reads.list_traces(filtered, None, ["project-3"], reads.Filters.parse({"cursor": cursor}))["data"]) == 50

        def stats(by: str):
            return lambda: reads.stats(filtered, None, ["project-3"], reads.Filters.parse({"since": "2026-10-01"}), by)

        for label in ("as loaded", "after OPTIMIZE FINAL"):
            if label != "as loaded":
                t = time.perf_counter()
                store.command("OPTIMIZE TABLE spanlens.spans FINAL")
                store.command("OPTIMIZE TABLE spanlens.llm_calls FINAL")
                print(f"optimized in {time.perf_counter() - t:.1f} s", flush=True)
            parts = store.query("SELECT count() AS n FROM system.parts WHERE database = 'spanlens' "
                                "AND table = 'spans' AND active")[0]["n"]
            print(f"{label} ({parts} parts): cost by model per day (one project, FINAL) "
                  f"{timed(lambda: store.query(COST_BY_MODEL)):.0f} ms; one trace as a tree {timed(tree):.0f} ms",
                  flush=True)
            print(f"{label}: traces list first page {timed(first_page):.0f} ms, next page {timed(next_page):.0f} ms; "
                  f"stats by model {timed(stats('model')):.0f} ms, by day {timed(stats('day')):.0f} ms "
                  f"(llm_calls rows: {store.query('SELECT count() AS n FROM spanlens.llm_calls')[0]['n']:,})",
                  flush=True)


if __name__ == "__main__":
    main()
