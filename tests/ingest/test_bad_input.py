"""Bad input to every ingest route gets a 4xx error envelope; nothing crashes, good calls
keep working."""
from __future__ import annotations

import uuid

import pytest

from .helpers import client, get_trace

T, S = str(uuid.uuid4()), str(uuid.uuid4())
HUGE = {"blob": "x" * 100_000}

CASES = [
    # (method, path, body bytes or JSON, status, code)
    ("POST", "/ingest/traces", b"{not json", 400, "INVALID_JSON_BODY"),
    ("POST", "/ingest/traces", b"", 400, "INVALID_JSON_BODY"),
    ("POST", "/ingest/traces", [1, 2], 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {"name": 5}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {"name": "   "}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {"name": "t", "id": "not-a-uuid"}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {"name": "t", "id": 12}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {"name": "t", "started_at": "yesterday"}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {"name": "t", "started_at": "3000-01-01T00:00:00Z"}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {"name": "t", "metadata": "text"}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces", {"name": "t", "metadata": HUGE}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/traces/{T}", {}, 400, "BAD_REQUEST"),
    ("PATCH", f"/ingest/traces/{T}", {"status": "done"}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/traces/{T}", {"ended_at": 17}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/traces/{T}", {"error_message": ["x"]}, 400, "VALIDATION_FAILED"),
    ("PATCH", "/ingest/traces/123", {"status": "completed"}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/traces/{T}", b"null", 400, "VALIDATION_FAILED"),
    ("POST", f"/ingest/traces/{T}/spans", {"id": S}, 400, "VALIDATION_FAILED"),
    ("POST", f"/ingest/traces/{T}/spans", {"name": "s", "parent_span_id": "zz"}, 400, "VALIDATION_FAILED"),
    ("POST", f"/ingest/traces/{T}/spans", {"name": "s", "request_id": "r-1"}, 400, "VALIDATION_FAILED"),
    ("POST", f"/ingest/traces/{T}/spans", {"name": "s", "started_at": "2024-13-45"}, 400, "VALIDATION_FAILED"),
    ("POST", f"/ingest/traces/{T}/spans", {"name": "s", "metadata": HUGE}, 400, "VALIDATION_FAILED"),
    ("POST", "/ingest/traces/0000/spans", {"name": "s"}, 400, "VALIDATION_FAILED"),
    ("POST", f"/ingest/traces/{S.replace('-', '')[:16]}/spans", {"name": "s"}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {}, 400, "BAD_REQUEST"),
    ("PATCH", f"/ingest/spans/{S}", {"status": "finished"}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"prompt_tokens": "ten"}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"completion_tokens": -1}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", b'{"total_tokens": 1180591620717411303424}', 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"total_tokens": 1.5}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"cost_usd": "0.1"}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"cost_usd": 1e12}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"cost_usd": True}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"ended_at": "2024-01-01T25:00:00Z"}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"request_id": "abc"}, 400, "VALIDATION_FAILED"),
    ("PATCH", f"/ingest/spans/{S}", {"metadata": 3}, 400, "VALIDATION_FAILED"),
    ("PATCH", "/ingest/spans/not-an-id", {"status": "completed"}, 400, "VALIDATION_FAILED"),
    ("GET", "/ingest/traces", None, 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", f"/ingest/spans/{S}", None, 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/api/v1/traces/not-a-trace", None, 400, "VALIDATION_FAILED"),
]


@pytest.fixture(scope="module")
def http(ingest_service):
    return client(ingest_service, ingest_service.new_key(f"bad-input-{uuid.uuid4().hex[:8]}"))


@pytest.mark.parametrize("method,path,body,status,code", CASES)
def test_bad_input_gets_an_envelope(http, method, path, body, status, code):
    if isinstance(body, bytes):
        r = http.request(method, path, content=body, headers={"content-type": "application/json"})
    elif body is None:
        r = http.request(method, path)
    else:
        r = http.request(method, path, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and error["requestId"] == r.headers["x-request-id"]


def test_body_over_the_limit_is_413_and_service_keeps_working(http):
    r = http.post("/ingest/traces", json={"name": "big", "input": "x" * (9 * 1024 * 1024)})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    trace = str(uuid.uuid4())
    assert http.post("/ingest/traces", json={"id": trace, "name": "fine"}).status_code == 201
    assert get_trace(http, trace)["name"] == "fine"
