"""Every query of the shipped Grafana dashboard runs on a real store with data and returns rows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..support.grafana import TimeRange, expand, utc

DASHBOARD = Path(__file__).resolve().parents[2] / "docker" / "grafana" / "dashboards" / "spanlens.json"
RANGE = TimeRange(utc(2026, 3, 1), utc(2026, 3, 4), interval_s=3600)


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _queries() -> list[tuple[str, str]]:
    return [(p["title"], t["rawSql"]) for p in _dashboard()["panels"] for t in p["targets"]]


def _span(project: str, trace: str, span: str, start: str, end: str, **cols) -> str:
    values = {"project_id": project, "organization_id": "org", "trace_id": trace, "span_id": span,
              "start_time": start, "end_time": end, "source": "native", **cols}
    names = ", ".join(values)
    lits = ", ".join("NULL" if v is None else (str(v) if isinstance(v, (int, float)) else "'" + str(v) + "'")
                     for v in values.values())
    return f"INSERT INTO spanlens.spans ({names}) VALUES ({lits})"


@pytest.fixture(scope="module")
def data(store) -> dict:
    """Two days of model calls in one project, plus one row outside the range and one in another project."""
    import uuid
    project = f"dash-{uuid.uuid4().hex[:10]}"
    other = f"dash-{uuid.uuid4().hex[:10]}"
    rows = [
        _span(project, "t1", "root", "2026-03-01 10:00:00", "2026-03-01 10:00:03", name="chat", span_type="agent",
              user_id="alice", session_id="s1"),
        _span(project, "t1", "a", "2026-03-01 10:00:00.100", "2026-03-01 10:00:01.100", parent_span_id="root",
              span_type="llm", request_model="gpt-4o", response_model="gpt-4o-2024-08-06", input_tokens=100,
              output_tokens=20, cache_read_tokens=40, cost_usd=0.5, status_code="ok"),
        _span(project, "t1", "b", "2026-03-01 10:00:01.200", "2026-03-01 10:00:03", parent_span_id="root",
              span_type="llm", request_model="claude-sonnet-4", input_tokens=50, output_tokens=10,
              reasoning_tokens=5, cost_usd=0.25, status_code="error"),
        _span(project, "t2", "c", "2026-03-02 09:00:00", "2026-03-02 09:00:02", name="summarize", span_type="llm",
              request_model="gpt-4o", response_model="gpt-4o-2024-08-06", input_tokens=10, output_tokens=5,
              reported_cost_usd=0.125, user_id="bob", session_id="s2"),
        _span(project, "t3", "d", "2026-02-01 09:00:00", "2026-02-01 09:00:02", span_type="llm",
              request_model="gpt-4o", input_tokens=1, output_tokens=1, cost_usd=9, user_id="carol"),
        _span(other, "t9", "e", "2026-03-01 09:00:00", "2026-03-01 09:00:02", span_type="llm",
              request_model="gpt-4o", input_tokens=1, output_tokens=1, cost_usd=7, user_id="mallory"),
        f"""INSERT INTO spanlens.requests (id, created_at, organization_id, project_id, api_key_id, provider, model,
                method, path, status_code, streamed, latency_ms, proxy_overhead_ms, duration_ms, truncated,
                service_tier, request_body, response_body, trace_id, span_id, flags) VALUES
            ('r1', '2026-03-01 10:00:00', 'org', '{project}', 'k', 'openai', 'gpt-4o', 'POST', '/v1/chat/completions',
             200, false, 900, 2, 905, false, '', '{{}}', '{{}}', 't1', 'a', []),
            ('r2', '2026-03-01 10:30:00', 'org', '{project}', 'k', 'openai', 'gpt-4o', 'POST', '/v1/chat/completions',
             429, false, 10, 1, 11, false, '', '{{}}', '{{}}', 't4', 'x', [])""",
    ]
    for stmt in rows:
        store.command(stmt)
    return {"project": project, "store": store}


def _run(data: dict, sql: str) -> list[dict]:
    return data["store"].query(expand(sql, RANGE, {"project": [data["project"]]}))


def test_dashboard_uses_the_provisioned_datasource():
    dash = _dashboard()
    uids = {p["datasource"]["uid"] for p in dash["panels"]}
    provisioned = (DASHBOARD.parents[1] / "provisioning" / "datasources" / "clickhouse.yaml").read_text()
    assert uids == {"spanlens-clickhouse"} and "uid: spanlens-clickhouse" in provisioned
    titles = [p["title"] for p in dash["panels"]]
    assert len(set(titles)) == len(titles) >= 8


@pytest.mark.parametrize("title,sql", _queries(), ids=[t for t, _ in _queries()])
def test_every_panel_query_returns_rows(data, title, sql):
    rows = _run(data, sql)
    assert rows, title


def test_macros_expand_like_the_plugin():
    r = TimeRange(utc(2026, 3, 1), utc(2026, 3, 2), interval_s=30)
    assert expand("$__timeFilter(t)", r) == "t >= toDateTime(1772323200) AND t <= toDateTime(1772409600)"
    assert expand("$__fromTime/$__toTime/$__interval_s", r) == "toDateTime(1772323200)/toDateTime(1772409600)/30"
    assert expand("$__timeInterval(t)", r) == "toStartOfInterval(toDateTime(t), INTERVAL 30 second)"
    assert expand("p IN (${p:singlequote})", r, {"p": ["a", "o'k"]}) == "p IN ('a','o\\'k')"


def _panel(title: str) -> str:
    return next(sql for t, sql in _queries() if t == title)


def test_cost_by_model_counts_only_the_range_and_project(data):
    rows = _run(data, _panel("Cost by model per day"))
    by = {(str(r["time"])[:10], r["model"]): r["cost_usd"] for r in rows}
    assert by == {("2026-03-01", "gpt-4o-2024-08-06"): 0.5, ("2026-03-01", "claude-sonnet-4"): 0.25,
                  ("2026-03-02", "gpt-4o-2024-08-06"): 0.125}


def test_top_users_and_sessions_attribute_a_trace_to_its_user(data):
    users = {r["user"]: r["cost_usd"] for r in _run(data, _panel("Top users by cost"))}
    assert users == {"alice": 0.75, "bob": 0.125}
    sessions = [r["session"] for r in _run(data, _panel("Top sessions by cost"))]
    assert sessions == ["s1", "s2"]


def test_calls_error_rate_latency_and_tokens(data):
    calls = _run(data, _panel("Model calls and error rate"))
    assert sum(r["calls"] for r in calls) == 3
    assert max(r["error_rate"] for r in calls) == 0.5
    lat = {r["model"]: r for r in _run(data, _panel("Latency p50 / p95 by model"))}
    assert lat["claude-sonnet-4"]["p50_ms"] == pytest.approx(1800)
    tokens = _run(data, _panel("Tokens by kind"))
    assert sum(r["input"] for r in tokens) == 160 and sum(r["reasoning"] for r in tokens) == 5
    proxy = _run(data, _panel("Proxy requests: calls, errors, p95 latency"))
    assert sum(r["requests"] for r in proxy) == 2 and sum(r["errors"] for r in proxy) == 1


def test_recent_traces_newest_first_with_a_read_api_link(data):
    rows = _run(data, _panel("Recent traces"))
    assert [r["trace_id"] for r in rows] == ["t2", "t1"]
    assert rows[1]["span_count"] == 3 and rows[1]["status"] == "error"
    panel = next(p for p in _dashboard()["panels"] if p["title"] == "Recent traces")
    links = [l for o in panel["fieldConfig"]["overrides"] for prop in o["properties"] if prop["id"] == "links"
             for l in prop["value"]]
    assert links[0]["url"] == "${spanlens_url}/api/v1/traces/${__value.raw}"


def test_project_variable_query_lists_projects(data):
    var = next(v for v in _dashboard()["templating"]["list"] if v["name"] == "project")
    projects = [r["project_id"] for r in _run(data, var["query"])]
    assert data["project"] in projects
