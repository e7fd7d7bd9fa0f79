"""A second project's key can neither read nor change the first project's trace or spans,
even with the right ids; public keys read but never write."""
from __future__ import annotations

import uuid

from .helpers import client, get_trace


def test_other_project_cannot_read_or_modify(ingest_service, project):
    owner = client(ingest_service, ingest_service.new_key(project))
    intruder = client(ingest_service, ingest_service.new_key(project + "-other"))
    trace, span = str(uuid.uuid4()), str(uuid.uuid4())
    assert owner.post("/ingest/traces", json={"id": trace, "name": "secret"}).status_code == 201
    assert owner.post(f"/ingest/traces/{trace}/spans", json={"id": span, "name": "s"}).status_code == 201
    assert owner.patch(f"/ingest/spans/{span}", json={"status": "completed", "total_tokens": 10}).status_code == 200
    before = get_trace(owner, trace)

    r = intruder.get(f"/api/v1/traces/{trace}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    # writes with guessed ids land in the intruder's own project, never in the owner's
    assert intruder.post("/ingest/traces", json={"id": trace, "name": "hijack"}).status_code == 201
    assert intruder.post(f"/ingest/traces/{trace}/spans", json={"id": span, "name": "hijack"}).status_code == 201
    assert intruder.patch(f"/ingest/spans/{span}", json={"status": "error", "total_tokens": 999}).status_code == 200
    assert intruder.patch(f"/ingest/traces/{trace}", json={"status": "error"}).status_code == 200
    assert get_trace(owner, trace) == before
    theirs = get_trace(intruder, trace)
    assert theirs["name"] == "hijack" and theirs["total_tokens"] == 999

    public = client(ingest_service, ingest_service.new_key(project, public=True))
    assert get_trace(public, trace) == before
    for method, path, body in [("POST", "/ingest/traces", {"name": "x"}),
                               ("PATCH", f"/ingest/spans/{span}", {"status": "error"})]:
        r = public.request(method, path, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "PUBLIC_KEY_WRITE_FORBIDDEN"
    assert get_trace(owner, trace) == before

    anonymous = ingest_service.client()
    assert anonymous.get(f"/api/v1/traces/{trace}").status_code == 401
    assert anonymous.post("/ingest/traces", json={"name": "x"}).status_code == 401
