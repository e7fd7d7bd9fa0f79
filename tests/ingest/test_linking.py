"""OTLP spans split across batches children first, batches exported twice, and one tree
shared by OTLP and ingest spans."""
from __future__ import annotations

import os
import uuid

from spanlens_pipeline.ids import uuid_form

from ..support.otlp import json_request, json_span
from .helpers import client, flatten, get_trace, project_id


def _span(trace: str, sid: str, name: str, parent: str | None, start_s: int, end_s: int, op: str = "") -> dict:
    extra = {"parentSpanId": parent} if parent else {}
    if op:
        extra["attributes"] = [{"key": "gen_ai.operation.name", "value": {"stringValue": op}}]
    return json_span(trace, sid, name, startTimeUnixNano=str(start_s * 10**9), endTimeUnixNano=str(end_s * 10**9),
                     **extra)


def test_children_first_batches_link_at_once_and_reexport_changes_nothing(ingest_service, project, store):
    http = client(ingest_service, ingest_service.new_key(project))
    trace = os.urandom(16).hex()
    root, mid, leaf = (os.urandom(8).hex() for _ in range(3))
    # the leaf is a model call (an llm span): usage reported on it counts in the trace totals
    batches = [[_span(trace, leaf, "leaf", mid, 1_700_000_003, 1_700_000_004, op="chat")],
               [_span(trace, mid, "mid", root, 1_700_000_002, 1_700_000_005)],
               [_span(trace, root, "root", None, 1_700_000_001, 1_700_000_009)]]

    def export(spans):
        r = http.post("/v1/traces", json=json_request(spans))
        assert r.status_code == 200 and r.json() == {}

    export(batches[0])
    data = get_trace(http, trace)
    assert data["span_count"] == 1 and data["orphan_count"] == 1 and data["spans"][0]["orphan"] is True
    export(batches[1])
    data = get_trace(http, trace)
    assert [n["id"] for n in data["spans"]] == [mid] and data["spans"][0]["orphan"] is True
    assert [c["id"] for c in data["spans"][0]["children"]] == [leaf]
    export(batches[2])
    data = get_trace(http, trace)
    assert data["orphan_count"] == 0 and data["name"] == "root" and data["duration_ms"] == 8000.0
    assert {sid: s["tree_parent"] for sid, s in flatten(data).items()} == {root: None, mid: root, leaf: mid}

    # an SDK span joins the same tree under an OTLP parent; an SDK "end" reaches an OTLP span
    sdk_span = str(uuid.uuid4())
    r = http.post(f"/ingest/traces/{uuid_form(trace)}/spans",
                  json={"id": sdk_span, "name": "tool", "parent_span_id": root, "span_type": "tool"})
    assert r.status_code == 201
    assert http.patch(f"/ingest/spans/{leaf}", json={"prompt_tokens": 40, "completion_tokens": 2}).status_code == 200
    before = get_trace(http, trace)
    spans = flatten(before)
    assert spans[uuid.UUID(sdk_span).hex]["tree_parent"] == root
    assert spans[leaf]["input_tokens"] == 40 and before["total_tokens"] == 42 and before["span_count"] == 4

    for batch in batches + [batches[0] + batches[1] + batches[2]]:  # re-exports, alone and together
        export(batch)
    after = get_trace(http, trace)
    assert after == before
    rows = store.query("SELECT count() AS n, uniqExact(span_id) AS u FROM spanlens.spans FINAL "
                       "WHERE project_id = %(p)s AND trace_id = %(t)s", {"p": project_id(ingest_service, project),
                                                                          "t": trace})
    assert rows[0] == {"n": 4, "u": 4}


def test_parent_that_never_arrives_leaves_a_flagged_orphan(ingest_service, project):
    http = client(ingest_service, ingest_service.new_key(project))
    trace, root, lost, child = os.urandom(16).hex(), *(os.urandom(8).hex() for _ in range(3))
    r = http.post("/v1/traces", json=json_request([
        _span(trace, root, "root", None, 1_700_000_001, 1_700_000_002),
        _span(trace, child, "child-of-lost", lost, 1_700_000_001, 1_700_000_002),
        _span(trace, lost[::-1], "self", lost[::-1], 1_700_000_001, 1_700_000_002)]))
    assert r.status_code == 200
    data = get_trace(http, trace)
    roots = {n["id"]: n for n in data["spans"]}
    assert set(roots) == {root, child, lost[::-1]} and data["orphan_count"] == 1
    assert roots[child]["orphan"] is True and roots[child]["parent_span_id"] == lost
    assert roots[root]["orphan"] is False and [n["id"] for n in data["spans"]][-1] == child
    assert roots[lost[::-1]]["parent_span_id"] is None and "parent_self_reference" in roots[lost[::-1]]["flags"]
