"""The spans table is the truth: after any arrival order of native-ingest calls,
``spans FINAL`` holds exactly one row per span, none under the pending trace id, and sums
over it equal what was sent. Waiting ends live in ``pending_ends`` and are resolved there,
also across a restart of the service (the waiting set is reloaded from the table)."""
from __future__ import annotations

import datetime
import itertools
import uuid

from .conftest import INGEST_CONFIG
from .helpers import client, project_id

BASE = datetime.datetime(2025, 4, 1, 9, 0, tzinfo=datetime.UTC)


def _at(ms: int) -> str:
    return (BASE + datetime.timedelta(milliseconds=ms)).isoformat()


def _calls(n: int) -> tuple[list[tuple[str, str, dict]], dict[str, int]]:
    """create trace, create span, end span, child span (created then ended): tokens by span id."""
    trace, root, child = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    calls = [
        ("POST", "/ingest/traces", {"id": trace, "name": "run", "started_at": _at(0)}),
        ("POST", f"/ingest/traces/{trace}/spans", {"id": root, "name": "root", "started_at": _at(1)}),
        ("PATCH", f"/ingest/spans/{root}", {"status": "completed", "ended_at": _at(50), "prompt_tokens": 10 + n}),
        ("POST", f"/ingest/traces/{trace}/spans", {"id": child, "name": "child", "parent_span_id": root,
                                                  "started_at": _at(2)}),
        ("PATCH", f"/ingest/spans/{child}", {"status": "completed", "ended_at": _at(40), "prompt_tokens": 3}),
    ]
    return calls, {uuid.UUID(root).hex: 10 + n, uuid.UUID(child).hex: 3}


def _send(rs, http, calls) -> None:
    """Make the calls, then wait until the service stored what it acknowledged."""
    for method, path, body in calls:
        r = http.request(method, path, json=body)
        assert r.status_code in (200, 201), (method, path, r.text)
    rs.drain()


def _spans(store, project: str) -> list[dict]:
    return store.query("SELECT span_id, trace_id, input_tokens, end_time IS NOT NULL AS ended "
                       "FROM spanlens.spans FINAL WHERE project_id = %(p)s", {"p": project})


def _waiting(store, project: str) -> int:
    return store.query("SELECT count() AS n FROM spanlens.pending_ends FINAL "
                       "WHERE project_id = %(p)s AND NOT ifNull(resolved, false)", {"p": project})[0]["n"]


def _check(store, pid: str, expected: dict[str, int]) -> None:
    rows = _spans(store, pid)
    assert sorted(r["span_id"] for r in rows) == sorted(expected), "one row per span"
    assert all(r["trace_id"] != "" for r in rows)
    assert all(r["ended"] for r in rows)
    assert {r["span_id"]: r["input_tokens"] for r in rows} == expected
    totals = store.query("SELECT count() AS n, sum(input_tokens) AS tokens FROM spanlens.spans FINAL "
                         "WHERE project_id = %(p)s", {"p": pid})[0]
    assert (totals["n"], totals["tokens"]) == (len(expected), sum(expected.values()))
    rollup = store.query("SELECT sum(span_count) AS n, sum(input_tokens) AS tokens FROM spanlens.traces "
                         "WHERE project_id = %(p)s", {"p": pid})[0]
    assert (rollup["n"], rollup["tokens"]) == (len(expected), sum(expected.values()))
    assert _waiting(store, pid) == 0


def test_every_order_leaves_one_row_per_span(ingest_service, project, store):
    http = client(ingest_service, ingest_service.new_key(project))
    expected: dict[str, int] = {}
    for n, order in enumerate(itertools.permutations(range(5))):
        calls, tokens = _calls(n)
        _send(ingest_service, http, [calls[i] for i in order])
        expected.update(tokens)
    _check(store, project_id(ingest_service, project), expected)


def test_waiting_end_stays_out_of_spans_until_its_create(ingest_service, project, store):
    http = client(ingest_service, ingest_service.new_key(project))
    calls, tokens = _calls(0)
    _send(ingest_service, http, [calls[2], calls[4]])  # both ends first
    pid = project_id(ingest_service, project)
    assert _spans(store, pid) == []
    assert _waiting(store, pid) == 2
    _send(ingest_service, http, [calls[0], calls[1], calls[3], calls[2]])  # creates, then a retried end
    _check(store, pid, tokens)


def test_restart_in_the_middle_reloads_waiting_ends(service_factory, project, store):
    first = service_factory(INGEST_CONFIG)
    key = first.new_key(project)
    orders = list(itertools.permutations(range(5)))[::7]
    batches = [(_calls(n), order) for n, order in enumerate(orders)]
    with client(first, key) as http:
        for (calls, _), order in batches:
            _send(first, http, [calls[i] for i in order[:3]])
    pid = project_id(first, project)
    first.stop()
    second = service_factory(INGEST_CONFIG)
    expected: dict[str, int] = {}
    with client(second, key) as http:
        for (calls, tokens), order in batches:
            _send(second, http, [calls[i] for i in order[3:]])
            expected.update(tokens)
    _check(store, pid, expected)
