"""/metrics counts every receiver with the Collector's names: spans accepted by the OTLP,
ingest and proxy receivers, spans refused (a bad key), spans the exporter stored."""
from __future__ import annotations

import re
import time
import uuid

import httpx

from ..support.otlp import json_request, json_span

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
_LINE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')


def _metrics(rs) -> dict[tuple[str, frozenset], float]:
    r = httpx.get(f"{rs.url}/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for line in r.text.splitlines():
        m = _LINE.match(line)
        if m and not line.startswith("#"):
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def _value(snapshot, name: str, **labels: str) -> float:
    return snapshot.get((name, frozenset(labels.items())), 0.0)


def _delta(before, after, name: str, **labels: str) -> float:
    return _value(after, name, **labels) - _value(before, name, **labels)


def _wait_for(rs, name: str, at_least: float, **labels: str) -> dict:
    """Proxy logs are handed on after the answer: wait (bounded) until a counter reaches a value."""
    deadline = time.monotonic() + 30
    while True:
        snap = _metrics(rs)
        if _value(snap, name, **labels) >= at_least or time.monotonic() > deadline:
            return snap
        time.sleep(0.05)


def test_metrics_count_every_receiver(proxy, key):
    before = _metrics(proxy)
    auth = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=proxy.url, headers=auth, timeout=30) as http:
        n_otlp = 5
        r = http.post("/v1/traces", json=json_request([json_span() for _ in range(n_otlp)]))
        assert r.status_code == 200, r.text
        trace = str(uuid.uuid4())
        assert http.post("/ingest/traces", json={"id": trace, "name": "t"}).status_code == 201
        m_ingest = 3
        for _ in range(m_ingest):
            span = str(uuid.uuid4())
            assert http.post(f"/ingest/traces/{trace}/spans", json={"id": span, "name": "s"}).status_code == 201
        r = http.post("/proxy/openai/v1/chat/completions", json=CHAT)
        assert r.status_code == 200, r.text
        bad = http.post("/v1/traces", json=json_request([json_span()]),
                        headers={"authorization": "Bearer sl_live_" + "0" * 48})
        assert bad.status_code == 401
        bad = http.post(f"/ingest/traces/{trace}/spans", json={"name": "s"},
                        headers={"authorization": "Bearer sl_live_" + "0" * 48})
        assert bad.status_code == 401
    proxied = _value(before, "otelcol_receiver_accepted_spans", receiver="proxy", transport="http") + 1
    after = _wait_for(proxy, "otelcol_receiver_accepted_spans", proxied, receiver="proxy", transport="http")

    def d(name, **labels):
        return _delta(before, after, name, **labels)

    assert d("otelcol_receiver_accepted_spans", receiver="otlp", transport="http") == n_otlp
    assert d("otelcol_receiver_accepted_spans", receiver="ingest", transport="http") == m_ingest
    assert d("otelcol_receiver_accepted_spans", receiver="proxy", transport="http") == 1
    assert d("otelcol_receiver_refused_spans", receiver="otlp", transport="http") == 1
    assert d("otelcol_receiver_refused_spans", receiver="ingest", transport="http") == 1
    assert d("otelcol_receiver_refused_spans", receiver="proxy", transport="http") == 0
    assert d("otelcol_exporter_sent_spans", exporter="clickhouse") == n_otlp + m_ingest + 1
    assert d("otelcol_exporter_send_failed_spans", exporter="clickhouse") == 0
    assert d("otelcol_processor_incoming_items", processor="auth", pipeline="traces") == n_otlp + m_ingest + 1
    assert d("otelcol_processor_outgoing_items", processor="auth", pipeline="traces") == n_otlp + m_ingest + 1
    # the receivers' own counters stay
    assert d("spanlens_receiver_accepted_spans_total", receiver="otlp") == n_otlp


def test_refused_proxy_call_is_counted(proxy):
    before = _metrics(proxy)
    r = httpx.post(f"{proxy.url}/proxy/openai/v1/chat/completions", json=CHAT,
                   headers={"authorization": "Bearer sl_live_" + "0" * 48}, timeout=30)
    assert r.status_code == 401
    after = _metrics(proxy)
    assert _delta(before, after, "otelcol_receiver_refused_spans", receiver="proxy", transport="http") == 1
    assert _delta(before, after, "otelcol_receiver_accepted_spans", receiver="proxy", transport="http") == 0
