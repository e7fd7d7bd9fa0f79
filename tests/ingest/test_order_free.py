"""Any arrival order, duplicates and retries of one trace's ingest calls give the same
stored tree, rollup and durations as in-order delivery."""
from __future__ import annotations

import datetime
import random
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import client, flatten, get_trace

BASE = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)
N_SPANS = 20


def _at(ms: int) -> str:
    return (BASE + datetime.timedelta(milliseconds=ms)).isoformat()


def make_trace(rng: random.Random) -> dict:
    """A 20-span trace: its calls (in order) and the expected stored result."""
    trace_id = str(uuid.uuid4())
    spans = []
    for i in range(N_SPANS):
        parent = spans[rng.randrange(i)] if i else None
        start = (parent["start"] if parent else 0) + rng.randrange(1, 50)
        spans.append({
            "id": str(uuid.uuid4()), "name": f"step-{i}", "parent": parent["id"] if parent else None,
            "start": start, "end": start + rng.randrange(0, 500), "error": rng.random() < 0.15,
            "tokens": rng.randrange(0, 1000), "cost": Decimal(rng.randrange(0, 10_000)) / 1_000_000,
            "create_meta": {"i": i}, "end_meta": {"done": i} if rng.random() < 0.5 else None,
        })
    calls = [("POST", "/ingest/traces", {"id": trace_id, "name": "agent-run", "started_at": _at(0),
                                         "metadata": {"run": 1}})]
    for s in spans:
        body = {"id": s["id"], "name": s["name"], "span_type": "llm", "started_at": _at(s["start"]),
                "input": {"step": s["name"]}, "metadata": s["create_meta"]}
        if s["parent"]:
            body["parent_span_id"] = s["parent"]
        calls.append(("POST", f"/ingest/traces/{trace_id}/spans", body))
    for s in spans:
        body = {"status": "error" if s["error"] else "completed", "ended_at": _at(s["end"]),
                "output": f"out-{s['name']}", "prompt_tokens": s["tokens"], "completion_tokens": 1,
                "total_tokens": s["tokens"] + 1, "cost_usd": float(s["cost"])}
        if s["error"]:
            body["error_message"] = f"{s['name']} failed"
        if s["end_meta"]:
            body["metadata"] = s["end_meta"]
        calls.append(("PATCH", f"/ingest/spans/{s['id']}", body))
    end = max(s["end"] for s in spans) + 5
    calls.append(("PATCH", f"/ingest/traces/{trace_id}", {"status": "completed", "ended_at": _at(end),
                                                          "metadata": {"run": 2}}))
    expected_spans = {
        uuid.UUID(s["id"]).hex: {
            "tree_parent": uuid.UUID(s["parent"]).hex if s["parent"] else None, "name": s["name"],
            "started_at": _at(s["start"]), "ended_at": _at(s["end"]), "duration_ms": float(s["end"] - s["start"]),
            "status": "error" if s["error"] else "completed",
            "status_message": f"{s['name']} failed" if s["error"] else None,
            "input": {"step": s["name"]}, "output": f"out-{s['name']}",
            "metadata": s["end_meta"] or s["create_meta"], "input_tokens": s["tokens"], "output_tokens": 1,
            "total_tokens": s["tokens"] + 1, "cost_usd": str(s["cost"].normalize()) if s["cost"] else "0",
        } for s in spans}
    any_error = any(s["error"] for s in spans)
    rollup = {
        "name": "agent-run", "status": "error" if any_error else "completed", "started_at": _at(0),
        "ended_at": _at(end), "duration_ms": float(end), "span_count": N_SPANS, "orphan_count": 0,
        "error_count": sum(s["error"] for s in spans), "metadata": {"run": 2},
        "input_tokens": sum(s["tokens"] for s in spans), "output_tokens": N_SPANS,
        "total_tokens": sum(s["tokens"] + 1 for s in spans),
        "total_cost_usd": format(sum(s["cost"] for s in spans).normalize(), "f"),
    }
    return {"id": trace_id, "calls": calls, "spans": expected_spans, "rollup": rollup}


def _send(http, calls) -> None:
    for method, path, body in calls:
        r = http.request(method, path, json=body)
        assert r.status_code in (200, 201), (method, path, r.text)


def _check(http, trace: dict) -> None:
    data = get_trace(http, trace["id"])
    assert {k: data[k] for k in trace["rollup"]} == trace["rollup"]
    stored = flatten(data)
    assert stored.keys() == trace["spans"].keys()
    for sid, want in trace["spans"].items():
        got = {k: stored[sid][k] for k in want}
        if got["cost_usd"] is not None:
            got["cost_usd"] = format(Decimal(got["cost_usd"]).normalize(), "f")
        want = {**want, "cost_usd": format(Decimal(want["cost_usd"]).normalize(), "f")}
        assert got == want, sid


def test_in_order_delivery(ingest_service, project):
    http = client(ingest_service, ingest_service.new_key(project))
    trace = make_trace(random.Random(7))
    _send(http, trace["calls"])
    _check(http, trace)


def test_first_create_is_201_and_replays_are_200(ingest_service, project):
    http = client(ingest_service, ingest_service.new_key(project))
    trace = make_trace(random.Random(3))
    create_trace, create_span = trace["calls"][0], trace["calls"][1]
    first = http.post(create_trace[1], json=create_trace[2])
    again = http.post(create_trace[1], json={**create_trace[2], "started_at": _at(999)})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() == {"success": True, "data": {"id": trace["id"], "started_at": _at(0)}}
    span_first = http.post(create_span[1], json=create_span[2])
    span_again = http.post(create_span[1], json=create_span[2])
    assert (span_first.status_code, span_again.status_code) == (201, 200)
    assert span_first.json() == span_again.json()
    assert span_first.json()["data"]["id"] == create_span[2]["id"]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), order=st.permutations(range(2 * N_SPANS + 2)),
       repeats=st.lists(st.tuples(st.integers(0, 2 * N_SPANS + 1), st.integers(0, 2 * N_SPANS + 1),
                                  st.booleans()), max_size=12))
def test_any_order_with_duplicates_and_retries(ingest_service, project, seed, order, repeats):
    http = client(ingest_service, ingest_service.new_key(project))
    trace = make_trace(random.Random(seed))
    calls = [trace["calls"][i] for i in order]
    for which, where, retry in repeats:
        # a retry follows its call at once; a duplicate lands anywhere
        position = order.index(which) + 1 if retry else where
        calls.insert(min(position, len(calls)), trace["calls"][which])
    _send(http, calls)
    _check(http, trace)
