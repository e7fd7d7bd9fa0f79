"""``GET /api/v1/traces``: the same answers as SQL on the store, filters, keyset pages."""
from __future__ import annotations

from decimal import Decimal

from .helpers import T0, client, llm_trace, new_key, post, project_id


def _sql_list(store, pid: str, extra: str = "") -> list[dict]:
    return store.query(
        "SELECT trace_id, name, span_count, total_tokens, total_cost_usd, status, user_id, models "
        f"FROM spanlens.traces WHERE project_id = %(p)s {extra} ORDER BY start_time DESC, trace_id DESC",
        {"p": pid})


def test_list_equals_sql_and_filters(api_service, store, project):
    key = new_key(api_service, project)
    pid = project_id(api_service, project)
    spans, ids = [], []
    for i in range(6):
        s, tid = llm_trace(T0 + i * 60_000_000_000, model=["gpt-4o-mini", "gpt-4o"][i % 2],
                           user=f"u{i % 3}", session=f"s{i % 2}", name=f"Agent-{i}", error=i == 4)
        spans += s
        ids.append(tid)
    post(api_service, key, spans)
    http = client(api_service, key)

    r = http.get("/api/v1/traces")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    expected = _sql_list(store, pid)
    assert [row["id"] for row in body["data"]] == [e["trace_id"] for e in expected] == ids[::-1]
    for row, e in zip(body["data"], expected):
        assert row["span_count"] == e["span_count"] == 2
        assert row["total_tokens"] == e["total_tokens"] == 120
        assert Decimal(row["total_cost_usd"]) == e["total_cost_usd"] > 0
        assert row["status"] == e["status"] and row["user_id"] == e["user_id"] and row["models"] == list(e["models"])
        assert set(row) >= {"id", "name", "started_at", "ended_at", "duration_ms", "span_count", "error_count",
                            "input_tokens", "output_tokens", "total_tokens", "total_cost_usd", "status",
                            "user_id", "session_id", "models"}
    assert body["data"][0]["started_at"] == "2026-01-01T00:05:00+00:00" and body["data"][0]["duration_ms"] == 3000.0

    def ids_of(**params) -> list[str]:
        r = http.get("/api/v1/traces", params=params)
        assert r.status_code == 200, r.text
        return [row["id"] for row in r.json()["data"]]

    assert ids_of(model="gpt-4o") == [ids[5], ids[3], ids[1]]
    assert ids_of(user_id="u1") == [ids[4], ids[1]]
    assert ids_of(session_id="s0") == [ids[4], ids[2], ids[0]]
    assert ids_of(status="error") == [ids[4]]
    assert ids_of(status="ok") == [t for t in ids[::-1] if t != ids[4]]
    assert ids_of(name="agent-3") == [ids[3]]
    assert ids_of(provider="openai") == ids[::-1] and ids_of(provider="anthropic") == []
    assert ids_of(since="2026-01-01T00:02:00Z", until="2026-01-01T00:04:00Z") == [ids[3], ids[2]]
    assert ids_of(since="1d") == []  # all six are older than a day
    costs = {e["trace_id"]: e["total_cost_usd"] for e in expected}
    top = max(costs.values())
    assert ids_of(min_cost=str(top)) == [t for t in ids[::-1] if costs[t] >= top]

    for params, field in [({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"since": "yesterday"}, "since"),
                          ({"status": "done"}, "status"), ({"cursor": "!!"}, "cursor"), ({"min_cost": "x"}, "min_cost")]:
        r = http.get("/api/v1/traces", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["code"] == "VALIDATION_FAILED" and r.json()["error"]["details"]["field"] == field


def test_pages_cover_every_trace_once(api_service, project):
    key = new_key(api_service, project)
    spans, ids = [], set()
    for i in range(23):
        s, tid = llm_trace(T0 + (i // 2) * 1_000_000_000)  # pairs share a start: the id breaks the tie
        spans += s
        ids.add(tid)
    post(api_service, key, spans)
    http = client(api_service, key)
    # without filters the page ids come from start times; with one, from the traces view
    for extra in ({}, {"provider": "openai"}, {"since": "2025-12-31"}):
        seen, cursor, pages = [], None, 0
        while True:
            r = http.get("/api/v1/traces", params={"limit": 5, **extra, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            seen += [row["id"] for row in r.json()["data"]]
            cursor, pages = r.json()["next_cursor"], pages + 1
            if cursor is None:
                break
        assert pages == 5 and len(seen) == 23 and set(seen) == ids, extra
