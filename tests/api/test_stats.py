"""``GET /api/v1/stats``: equal to SQL over spans FINAL, and a re-exported batch counts once."""
from __future__ import annotations

from decimal import Decimal

from .helpers import T0, client, llm_trace, new_key, post, project_id

SQL = """
SELECT coalesce(response_model, request_model) AS key, count() AS calls, sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost, countIf(status_code = 'error') AS errors,
       quantileExact(0.5)(dateDiff('ns', start_time, end_time) / 1e6) AS p50
FROM spanlens.spans FINAL
WHERE project_id = %(p)s AND span_type = 'llm'
GROUP BY key ORDER BY key
"""


def test_stats_equal_sql_and_reexport_counts_once(api_service, store, project):
    key = new_key(api_service, project)
    pid = project_id(api_service, project)
    spans = []
    for i in range(9):
        s, _ = llm_trace(T0 + i * 1_800_000_000_000, model=["gpt-4o-mini", "gpt-4o", "o3-mini"][i % 3],
                         user=f"u{i % 2}", error=i == 7, tokens=(100 + i, 10 + i))
        spans += s
    post(api_service, key, spans)
    http = client(api_service, key)
    first = http.get("/api/v1/stats", params={"group_by": "model"})
    assert first.status_code == 200, first.text
    post(api_service, key, spans)  # the same batch again
    again = http.get("/api/v1/stats", params={"group_by": "model"}).json()
    assert again == first.json()

    expected = store.query(SQL, {"p": pid})
    rows = again["data"]
    assert [r["key"] for r in rows] == [e["key"] for e in expected] == ["gpt-4o", "gpt-4o-mini", "o3-mini"]
    for r, e in zip(rows, expected):
        assert r["calls"] == e["calls"] == 3
        assert (r["input_tokens"], r["output_tokens"], r["errors"]) == (e["input_tokens"], e["output_tokens"], e["errors"])
        assert Decimal(r["cost_usd"]) == e["cost"] and r["p50_latency_ms"] == round(e["p50"], 3)
        assert r["p95_latency_ms"] >= r["p50_latency_ms"] > 0
    assert sum(r["errors"] for r in rows) == 1

    by_user = http.get("/api/v1/stats", params={"group_by": "user"}).json()["data"]
    assert [(r["key"], r["calls"]) for r in by_user] == [("u0", 5), ("u1", 4)]
    by_day = http.get("/api/v1/stats", params={"group_by": "day"}).json()["data"]
    assert [(r["key"], r["calls"]) for r in by_day] == [("2026-01-01", 9)]
    by_hour = http.get("/api/v1/stats", params={"group_by": "hour", "since": "2026-01-01T01:00:00Z",
                                                "until": "2026-01-01T02:00:00Z"}).json()["data"]
    assert by_hour == [{**by_hour[0], "key": "2026-01-01T01:00:00Z", "calls": 2}]
    assert http.get("/api/v1/stats", params={"group_by": "project"}).json()["data"][0]["key"] == pid
    bad = http.get("/api/v1/stats", params={"group_by": "colour"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "group_by"


def test_stats_by_two_keys(api_service, project):
    key = new_key(api_service, project)
    spans = []
    for i in range(4):
        spans += llm_trace(T0 + i * 86_400_000_000_000, model=["gpt-4o", "o3-mini"][i % 2])[0]
    spans += llm_trace(T0, model="o3-mini")[0]
    post(api_service, key, spans)
    rows = client(api_service, key).get("/api/v1/stats", params={"group_by": "day,model"}).json()["data"]
    assert [(r["keys"]["day"], r["keys"]["model"], r["calls"]) for r in rows] == [
        ("2026-01-01", "gpt-4o", 1), ("2026-01-01", "o3-mini", 1), ("2026-01-02", "o3-mini", 1),
        ("2026-01-03", "gpt-4o", 1), ("2026-01-04", "o3-mini", 1)]
    assert rows[0]["key"] == rows[0]["day"] == "2026-01-01" and rows[0]["model"] == "gpt-4o"
    assert client(api_service, key).get("/api/v1/stats", params={"group_by": "day,day"}).status_code == 400
