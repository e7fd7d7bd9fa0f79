"""The debug exporter logs what passes; the nop exporter accepts and stores nothing. A control
request through the clickhouse exporter proves the same store and query do see a span."""
from __future__ import annotations

import logging
import os

import httpx

from ..support.config import service_config
from ..support.otlp import pb_request, pb_span

CONFIG = service_config(exporters={"debug": {"verbosity": "detailed"}, "nop": None})


def _send(rs, project, trace: bytes, name: str) -> None:
    r = httpx.post(rs.url + "/v1/traces", content=pb_request([pb_span(trace, name=name)]),
                   headers={"content-type": "application/x-protobuf",
                            "authorization": f"Bearer {rs.new_key(project)}"})
    assert r.status_code == 200


def _stored(store, trace: bytes) -> int:
    return store.query("SELECT count() AS n FROM spanlens.spans WHERE trace_id = %(t)s", {"t": trace.hex()})[0]["n"]


def test_debug_logs_each_span_and_nop_stores_nothing(service_factory, store, project, caplog):
    assert "exporters: [debug, nop]" in CONFIG and "clickhouse" not in CONFIG.split("exporters:")[1]
    rs = service_factory(CONFIG)
    trace = os.urandom(16)
    with caplog.at_level(logging.INFO, logger="spanlens_pipeline.exporter.debug"):
        _send(rs, project, trace, "seen-by-debug")
    text = caplog.text
    assert "batch: 1 spans" in text and "seen-by-debug" in text and trace.hex() in text
    rs.stop()

    control = os.urandom(16)  # the same store, through the clickhouse exporter: a 2xx means stored
    _send(service_factory(service_config()), project, control, "stored-by-clickhouse")
    assert _stored(store, control) == 1
    assert _stored(store, trace) == 0
