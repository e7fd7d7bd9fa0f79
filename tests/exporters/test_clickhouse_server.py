"""The server path: the service writes to ClickHouse over the HTTP protocol (unmodified
clickhouse-connect HTTP client) — here a ClickHouse HTTP front over chdb in another process."""
from __future__ import annotations

import subprocess
import sys
import threading

import clickhouse_connect
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ..conftest import BASE_CONFIG
from ..support.process import start_clickhouse_http
from ..support.running import REPO, free_port


@pytest.fixture(scope="module")
def clickhouse_http(tmp_path_factory):
    proc, url = start_clickhouse_http(tmp_path_factory.mktemp("shim"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_spans_reach_a_clickhouse_server_over_http(service_factory, clickhouse_http, project):
    config = BASE_CONFIG.replace("endpoint: chdb://{chdb}", f"endpoint: {clickhouse_http}\n    database: spanlens_srv")
    rs = service_factory(config)
    key = rs.new_key(project)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{rs.url}/v1/traces", headers={"Authorization": f"Bearer {key}"})))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("over-http") as span:
        span.set_attribute("gen_ai.operation.name", "embeddings")
    provider.shutdown()

    host, port = clickhouse_http.rsplit(":", 1)
    client = clickhouse_connect.get_client(host="127.0.0.1", port=int(port))
    rows = client.query("SELECT name, span_type, trace_id FROM spanlens_srv.spans FINAL").result_rows
    assert rows == [("over-http", "embedding", format(span.get_span_context().trace_id, "032x"))]
    versions = client.query("SELECT version FROM spanlens_srv.schema_migrations FINAL ORDER BY version").result_rows
    assert versions and versions[0] == (1,)


@pytest.mark.slow
def test_start_up_waits_for_a_server_that_comes_up_later(service_factory, tmp_path, project):
    port = free_port()
    proc: list[subprocess.Popen] = []
    timer = threading.Timer(2.0, lambda: proc.append(subprocess.Popen(
        [sys.executable, "-m", "tests.support.chshim", str(port), str(tmp_path / "late")], cwd=REPO)))
    timer.start()
    try:
        config = BASE_CONFIG.replace("endpoint: chdb://{chdb}", f"endpoint: http://127.0.0.1:{port}\n"
                                     "    database: spanlens_late")
        rs = service_factory(config)  # blocks until started: the store was unreachable at first
        assert proc, "the service started before its store existed"
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
            endpoint=f"{rs.url}/v1/traces", headers={"Authorization": f"Bearer {rs.new_key(project)}"})))
        with provider.get_tracer("t").start_as_current_span("after-wait"):
            pass
        provider.shutdown()
        client = clickhouse_connect.get_client(host="127.0.0.1", port=port)
        assert client.query("SELECT name FROM spanlens_late.spans FINAL").result_rows == [("after-wait",)]
    finally:
        timer.cancel()
        for p in proc:
            p.terminate()
            p.wait(10)
