"""Times reach the store exactly: every nanosecond value a DateTime64(9) holds round-trips,
from the first nanosecond after the epoch to the column's last one in 2262."""
from __future__ import annotations

import os

import pytest

from spanlens_pipeline.exporters.clickhouse.exporter import encode_spans, encode_traces, time_text
from spanlens_pipeline.model import MAX_TIME_NS, SPAN_COLUMNS, TRACE_COLUMNS, SpanRecord, TraceRecord

TIMES = [1, 1999, 10**8, 10**9, 10**12, 10**15, 10**18,
         946_684_799_000_000_000,  # 1999-12-31T23:59:59Z
         946_684_799_999_999_999, 1_700_000_000_123_456_789, MAX_TIME_NS]


def test_time_text_is_exact():
    assert time_text(1) == "1970-01-01 00:00:00.000000001"
    assert time_text(946_684_799_000_000_000) == "1999-12-31 23:59:59.000000000"
    assert time_text(MAX_TIME_NS) == "2262-04-11 23:47:16.854775807"
    with pytest.raises(ValueError):
        time_text(MAX_TIME_NS + 1)


def test_span_and_trace_times_round_trip(store):
    trace = os.urandom(16).hex()
    spans = [SpanRecord(trace, os.urandom(8).hex(), project_id="p-times", organization_id="o", name=str(t),
                        start_time=t, end_time=t) for t in TIMES]
    store.insert_json("spanlens.spans", SPAN_COLUMNS, encode_spans(spans))
    rows = store.query("SELECT name, toUnixTimestamp64Nano(start_time) AS s, toUnixTimestamp64Nano(end_time) AS e "
                       "FROM spanlens.spans FINAL WHERE trace_id = %(t)s", {"t": trace})
    assert sorted((int(r["name"]), r["s"], r["e"]) for r in rows) == sorted((t, t, t) for t in TIMES)

    traces = [TraceRecord(os.urandom(16).hex(), project_id="p-times", organization_id="o", name=str(t),
                          start_time=t, end_time=t) for t in TIMES]
    store.insert_json("spanlens.trace_meta", TRACE_COLUMNS, encode_traces(traces))
    ids = [t.trace_id for t in traces]
    rows = store.query("SELECT name, toUnixTimestamp64Nano(start_time) AS s, toUnixTimestamp64Nano(end_time) AS e "
                       "FROM spanlens.trace_meta WHERE trace_id IN %(ids)s", {"ids": ids})
    assert sorted((int(r["name"]), r["s"], r["e"]) for r in rows) == sorted((t, t, t) for t in TIMES)
