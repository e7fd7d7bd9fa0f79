"""The real OpenTelemetry SDK exporting to the service over HTTP."""
from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode


def _provider(url: str, key: str, compression=Compression.NoCompression):
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {key}"},
                                compression=compression)
    provider = TracerProvider(resource=Resource.create({"service.name": "agent-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_sdk_spans_land_once_with_tree_and_tenant(service, store, project):
    key = service.new_key(project)
    provider, _ = _provider(service.url, key, Compression.Gzip)
    tracer = provider.get_tracer("my-agent", "1.2.3")
    with tracer.start_as_current_span("answer-question") as root:
        root.set_attribute("gen_ai.operation.name", "chat")
        root.set_attribute("gen_ai.request.model", "gpt-4o")
        root.set_attribute("gen_ai.usage.input_tokens", 120)
        root.add_event("gen_ai.user.message", {"content": "hi"})
        with tracer.start_as_current_span("lookup") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_status(Status(StatusCode.ERROR, "tool broke"))
    provider.shutdown()

    rows = store.query(
        "SELECT *, duration_ns FROM spanlens.spans FINAL WHERE project_id IN "
        "(SELECT project_id FROM spanlens.spans WHERE service_name = 'agent-svc') AND trace_id = %(t)s",
        {"t": format(root.get_span_context().trace_id, "032x")})
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"answer-question", "lookup"}
    r, t = by_name["answer-question"], by_name["lookup"]
    assert r["parent_span_id"] is None and t["parent_span_id"] == r["span_id"]
    assert r["span_type"] == "llm" and t["span_type"] == "tool"
    assert r["attributes"]["gen_ai.request.model"] == "gpt-4o"
    assert r["attributes"]["gen_ai.usage.input_tokens"] == "120"
    assert r["resource_attributes"]["service.name"] == "agent-svc"
    assert r["scope_name"] == "my-agent" and r["scope_version"] == "1.2.3"
    assert r["kind"] == "internal" and r["source"] == "otlp"
    assert t["status_code"] == "error" and t["status_message"] == "tool broke"
    assert "gen_ai.user.message" in r["events"]
    assert r["duration_ns"] > 0
    assert r["project_id"] == t["project_id"] and r["organization_id"]


def test_exporting_the_same_batch_twice_stores_each_span_once(service, store, project):
    key = service.new_key(project)
    provider, exporter = _provider(service.url, key)
    captured = []

    class Capture(SpanProcessor):
        def on_start(self, span, parent_context=None): pass
        def on_end(self, span): captured.append(span)
        def shutdown(self): pass
        def force_flush(self, timeout_millis=0): return True

    provider.add_span_processor(Capture())
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("a"):
        with tracer.start_as_current_span("b"):
            pass
    assert exporter.export(captured).name == "SUCCESS"  # second export of the same spans
    provider.shutdown()
    trace_id = format(captured[0].context.trace_id, "032x")
    n = store.query("SELECT count() AS n FROM spanlens.spans FINAL WHERE trace_id = %(t)s", {"t": trace_id})
    assert n[0]["n"] == 2
