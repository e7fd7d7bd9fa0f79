"""Parts of one span written separately fold into one row: scalars keep the last non-NULL
value, attribute maps and flags are unions (a part without them erases nothing)."""
from __future__ import annotations

import asyncio
import logging
import os

from spanlens_pipeline.component import Settings
from spanlens_pipeline.exporters.clickhouse import ClickHouseExporter, Config
from spanlens_pipeline.model import Batch, RequestContext, SpanRecord

from ..support.host import storage_host


def test_partial_records_merge_field_by_field(chdb_path, store):
    exporter = ClickHouseExporter(Settings("clickhouse", logging.getLogger("t")), Config())
    trace, span = os.urandom(16).hex(), os.urandom(8).hex()
    full = SpanRecord(trace, span, project_id="p-merge", organization_id="o", name="chat", span_type="llm",
                      start_time=1_700_000_000_000_000_000, attributes={"gen_ai.request.model": "gpt-4o", "n": 1},
                      resource_attributes={"service.name": "svc"}, flags=["a"], input_tokens=10)
    end = SpanRecord(trace, span, project_id="p-merge", organization_id="o", end_time=1_700_000_002_000_000_000,
                     output_tokens=5, flags=["b"])
    later = SpanRecord(trace, span, project_id="p-merge", organization_id="o", output_tokens=7,
                       attributes={"extra": "x"})

    async def go():
        await exporter.start(await storage_host(chdb_path))
        try:
            for rec in (full, end, later):
                await exporter.export(Batch(spans=[rec]), RequestContext(headers={}))
        finally:
            await exporter.shutdown()

    asyncio.run(go())
    rows = store.query("SELECT name, span_type, input_tokens, output_tokens, duration_ns, attributes, "
                       "resource_attributes, flags FROM spanlens.spans FINAL WHERE trace_id = %(t)s", {"t": trace})
    assert len(rows) == 1
    row = rows[0]
    assert (row["name"], row["span_type"], row["input_tokens"], row["output_tokens"]) == ("chat", "llm", 10, 7)
    assert row["duration_ns"] == 2_000_000_000
    assert row["attributes"] == {"gen_ai.request.model": "gpt-4o", "n": "1", "extra": "x"}
    assert row["resource_attributes"] == {"service.name": "svc"}
    assert sorted(row["flags"]) == ["a", "b"]
