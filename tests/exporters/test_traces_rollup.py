"""The traces rollup counts usage once per model call: an OTLP agent span that repeats its
child's usage attributes adds neither tokens nor cost."""
from __future__ import annotations

import os

import orjson

from ..support.otlp import json_request, json_span


def _attrs(**kv) -> list[dict]:
    return [{"key": k, "value": {"intValue": v} if isinstance(v, int) else {"stringValue": v}} for k, v in kv.items()]


def test_wrapper_usage_is_not_counted_twice(service, store, project):
    key = service.new_key(project)
    trace, agent, llm = os.urandom(16).hex(), os.urandom(8).hex(), os.urandom(8).hex()
    usage = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
             "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500}
    spans = [json_span(trace_id=trace, span_id=agent, name="invoke_agent helper",
                       attributes=_attrs(**{"gen_ai.operation.name": "invoke_agent"}, **usage)),
             json_span(trace_id=trace, span_id=llm, parentSpanId=agent, name="chat gpt-4o-mini",
                       attributes=_attrs(**{"gen_ai.operation.name": "chat"}, **usage))]
    with service.client(headers={"authorization": f"Bearer {key}", "content-type": "application/json"}) as c:
        assert c.post("/v1/traces", content=orjson.dumps(json_request(spans))).status_code == 200
    rows = {r["span_id"]: r for r in store.query(
        "SELECT span_id, span_type, input_tokens, cost_usd FROM spanlens.spans FINAL WHERE trace_id = %(t)s",
        {"t": trace})}
    assert rows[agent]["input_tokens"] == rows[llm]["input_tokens"] == 1000  # both rows keep what was sent
    assert rows[agent]["cost_usd"] is None and rows[llm]["span_type"] == "llm"
    total = store.query("SELECT span_count, input_tokens, output_tokens, total_tokens, total_cost_usd "
                        "FROM spanlens.traces WHERE project_id = (SELECT any(project_id) FROM spanlens.spans "
                        "WHERE trace_id = %(t)s) AND trace_id = %(t)s", {"t": trace})[0]
    assert (total["span_count"], total["input_tokens"], total["output_tokens"], total["total_tokens"]) == (2, 1000, 500, 1500)
    assert str(total["total_cost_usd"].normalize()) == "0.00045"
