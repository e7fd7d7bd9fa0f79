
"""The real Node.js OTLP/HTTP exporter (@opentelemetry/exporter-trace-otlp-http), which sends
OTLP/JSON with hex ids and string int64s, exporting to the service."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.mark.slow
def test_node_json_exporter_spans_are_stored(service, store, project):
    node = shutil.which("node")
    assert node, "node is required for this test (the Makefile installs the Node client packages)"
    assert (NODE_DIR / "node_modules").is_dir(), "run `npm ci --prefix tests/node` (make test does it)"
    key = service.new_key(project)
    out = subprocess.run([node, "export_spans.mjs", f"{service.url}/v1/traces", key], cwd=NODE_DIR,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    trace_id = out.stdout.strip().splitlines()[-1]
    rows = store.query("SELECT name, span_type, parent_span_id, span_id, status_code, status_message, service_name, "
                       "scope_name, kind, attributes, events, duration_ns FROM spanlens.spans FINAL "
                       "WHERE trace_id = %(t)s ORDER BY name", {"t": trace_id})
    assert [r["name"] for r in rows] == ["chat gpt-4o", "execute_tool search"]
    root, tool = rows
    assert root["span_type"] == "llm" and tool["span_type"] == "tool"
    assert tool["parent_span_id"] == root["span_id"] and root["parent_span_id"] is None
    assert tool["status_code"] == "error" and tool["status_message"] == "tool failed"
    assert root["service_name"] == "node-agent" and root["scope_name"] == "node-tracer"
    assert root["kind"] == "internal"
    assert root["attributes"]["gen_ai.usage.input_tokens"] == "120"
    assert root["attributes"]["gen_ai.request.temperature"] == "0.5"
    assert root["attributes"]["gen_ai.response.finish_reasons"] == '["stop"]'
    assert "gen_ai.choice" in root["events"]
    assert root["duration_ns"] >= 0
