"""The debug exporter logs what passes; the nop exporter accepts and stores nothing."""
from __future__ import annotations

import logging
import os

import httpx

from ..conftest import BASE_CONFIG
from ..receivers.otlp_payloads import pb_request, pb_span

CONFIG = BASE_CONFIG.replace("exporters:\n  clickhouse:\n",
                             "exporters:\n  debug:\n    verbosity: detailed\n  nop:\n").replace(
    "exporters: [clickhouse]", "exporters: [debug, nop]")


def test_debug_logs_each_span_and_nop_stores_nothing(service_factory, store, project, caplog):
    assert "exporters: [debug, nop]" in CONFIG
    rs = service_factory(CONFIG)
    trace = os.urandom(16)
    with caplog.at_level(logging.INFO, logger="spanlens_pipeline.exporter.debug"):
        r = httpx.post(rs.url + "/v1/traces", content=pb_request([pb_span(trace, name="seen-by-debug")]),
                       headers={"content-type": "application/x-protobuf",
                                "authorization": f"Bearer {rs.new_key(project)}"})
        assert r.status_code == 200
    text = caplog.text
    assert "batch: 1 spans" in text and "seen-by-debug" in text and trace.hex() in text
    assert store.query("SELECT count() AS n FROM spanlens.spans WHERE trace_id = %(t)s",
                       {"t": trace.hex()})[0]["n"] == 0
