"""Tenant isolation on every read endpoint; requests and sessions; the OpenAPI document."""
from __future__ import annotations

import uuid

from .helpers import T0, client, llm_trace, new_key, post, project_id

ENDPOINTS = ["/api/v1/traces", "/api/v1/requests", "/api/v1/sessions", "/api/v1/stats?group_by=project"]


def _request_row(store, pid: str, trace_id: str, status: int = 200) -> str:
    rid = str(uuid.uuid4())
    store.command(
        "INSERT INTO spanlens.requests (id, created_at, organization_id, project_id, api_key_id, provider, model, "
        "method, path, status_code, streamed, prompt_tokens, completion_tokens, total_tokens, cost_usd, latency_ms, "
        "proxy_overhead_ms, duration_ms, truncated, service_tier, request_body, response_body, trace_id, span_id, "
        "user_id, session_id, flags) VALUES (%(id)s, now64(3), 'org', %(p)s, 'k', 'openai', 'gpt-4o', 'POST', "
        "'/v1/chat/completions', %(st)s, false, 10, 5, 15, 0.0001, 120.5, 0.4, 121, false, 'default', '{}', '{}', "
        "%(t)s, 'abcdabcdabcdabcd', 'u1', 's1', [])", {"id": rid, "p": pid, "st": status, "t": trace_id})
    return rid


def test_each_endpoint_sees_only_its_tenant(api_service, store, project):
    org_a, org_b = f"org-{project}", f"org-{project}-b"
    key_a = new_key(api_service, project, organization=org_a)
    key_a2 = new_key(api_service, project + "-2", organization=org_a)
    key_b = new_key(api_service, project, organization=org_b)
    public_a = new_key(api_service, project + "-pub", public=True, organization=org_a)
    pid_a, pid_a2 = project_id(api_service, project, org_a), project_id(api_service, project + "-2", org_a)
    spans, tid = llm_trace(T0, session="sess-a")
    post(api_service, key_a, spans)
    spans2, tid2 = llm_trace(T0 + 1_000_000_000, session="sess-a2")
    post(api_service, key_a2, spans2)
    rid = _request_row(store, pid_a, tid)
    _request_row(store, pid_a2, tid2, status=500)

    a, b, pub = client(api_service, key_a), client(api_service, key_b), client(api_service, public_a)
    assert [t["id"] for t in a.get("/api/v1/traces").json()["data"]] == [tid]
    assert {t["id"] for t in pub.get("/api/v1/traces").json()["data"]} == {tid, tid2}
    for path in ENDPOINTS:
        r = b.get(path)
        assert r.status_code == 200 and r.json()["data"] == [], (path, r.text)
        assert a.get(path).json()["data"] != [], path
        assert api_service.client().get(path).status_code == 401
    assert {s["session_id"] for s in pub.get("/api/v1/sessions").json()["data"]} == {"sess-a", "sess-a2"}
    assert {s["key"] for s in pub.get("/api/v1/stats", params={"group_by": "project"}).json()["data"]} == {pid_a, pid_a2}
    for path in (f"/api/v1/traces/{tid}", f"/api/v1/requests/{rid}"):
        assert a.get(path).status_code == 200 and pub.get(path).status_code == 200
        r = b.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", path
        unknown = b.get(path[:-8] + "00000000")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND"
    # a public key never writes
    w = pub.post("/v1/traces", json={"resourceSpans": []})
    assert w.status_code == 403 and w.json()["error"]["code"] == "PUBLIC_KEY_WRITE_FORBIDDEN"


def test_requests_and_sessions(api_service, store, project):
    key = new_key(api_service, project)
    pid = project_id(api_service, project)
    spans, tid = llm_trace(T0, user="u1", session="s1")
    post(api_service, key, spans)
    ok, failed = _request_row(store, pid, tid), _request_row(store, pid, tid, status=429)
    http = client(api_service, key)
    rows = http.get("/api/v1/requests").json()
    assert {r["id"] for r in rows["data"]} == {ok, failed} and rows["next_cursor"] is None
    assert [r["id"] for r in http.get("/api/v1/requests", params={"status": "error"}).json()["data"]] == [failed]
    page1 = http.get("/api/v1/requests", params={"limit": 1}).json()
    page2 = http.get("/api/v1/requests", params={"limit": 1, "cursor": page1["next_cursor"]}).json()
    assert {page1["data"][0]["id"], page2["data"][0]["id"]} == {ok, failed} and page2["next_cursor"] is None
    one = http.get(f"/api/v1/requests/{ok}").json()["data"]
    assert one["trace_id"] == tid and one["span_id"] == "abcdabcdabcdabcd" and one["cost_usd"] == "0.0001"
    assert one["request_body"] == "{}" and one["status_code"] == 200
    sessions = http.get("/api/v1/sessions").json()
    expected = store.query("SELECT count() AS n, sum(total_tokens) AS t FROM spanlens.traces "
                           "WHERE project_id = %(p)s AND session_id = 's1'", {"p": pid})[0]
    assert sessions["data"] == [{**sessions["data"][0], "session_id": "s1", "trace_count": expected["n"],
                                 "total_tokens": expected["t"], "user_id": "u1"}]
    assert sessions["data"][0]["first_seen"] == "2026-01-01T00:00:00+00:00"


def test_openapi_lists_every_path(api_service):
    spec = api_service.client().get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {"/api/v1/traces", "/api/v1/traces/{id}", "/api/v1/requests",
                                  "/api/v1/requests/{id}", "/api/v1/sessions", "/api/v1/stats"}
    for path, item in spec["paths"].items():
        for op in item.values():
            assert "responses" in op and op["operationId"]
            for p in op.get("parameters", []):
                assert p["in"] in ("query", "path") and (p["in"] != "path" or "{" + p["name"] + "}" in path)
