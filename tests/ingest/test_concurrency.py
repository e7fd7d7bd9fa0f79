"""50 concurrent clients sending interleaved traces, each in its own shuffled order:
nothing lost, nothing doubled."""
from __future__ import annotations

import asyncio
import random
import uuid

import httpx

from .helpers import client, flatten, get_trace, project_id

CLIENTS, SPANS = 50, 4


def _calls(rng: random.Random) -> tuple[str, dict[str, str | None], list[tuple[str, str, dict]]]:
    trace = str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in range(SPANS)]
    parents = {sid: (ids[rng.randrange(i)] if i else None) for i, sid in enumerate(ids)}
    calls = [("POST", "/ingest/traces", {"id": trace, "name": "job"})]
    for sid, parent in parents.items():
        calls.append(("POST", f"/ingest/traces/{trace}/spans", {"id": sid, "name": "s", "parent_span_id": parent}))
        calls.append(("PATCH", f"/ingest/spans/{sid}", {"status": "completed", "total_tokens": 10}))
    calls.append(("PATCH", f"/ingest/traces/{trace}", {"status": "completed"}))
    rng.shuffle(calls)
    return trace, parents, calls


def test_fifty_concurrent_clients(ingest_service, project, store):
    key = ingest_service.new_key(project)
    rng = random.Random(5)
    plans = [_calls(rng) for _ in range(CLIENTS)]

    async def one_client(calls) -> list[int]:
        async with httpx.AsyncClient(base_url=ingest_service.url, timeout=60,
                                     headers={"Authorization": f"Bearer {key}"}) as http:
            statuses = []
            for method, path, body in calls:
                statuses.append((await http.request(method, path, json=body)).status_code)
                await asyncio.sleep(0)
            return statuses

    async def everyone():
        return await asyncio.gather(*(one_client(calls) for _, _, calls in plans))

    for statuses in asyncio.run(everyone()):
        assert set(statuses) <= {200, 201}, statuses

    http = client(ingest_service, key)
    for trace, parents, _ in plans:
        data = get_trace(http, trace)
        assert data["span_count"] == SPANS and data["total_tokens"] == 10 * SPANS and data["orphan_count"] == 0
        assert data["status"] == "completed"
        assert {sid: s["tree_parent"] for sid, s in flatten(data).items()} == {
            uuid.UUID(s).hex: uuid.UUID(p).hex if p else None for s, p in parents.items()}
    rows = store.query("SELECT count() AS n, uniqExact(trace_id, span_id) AS u FROM spanlens.spans FINAL "
                       "WHERE project_id = %(p)s AND trace_id != ''", {"p": project_id(ingest_service, project)})
    assert rows[0] == {"n": CLIENTS * SPANS, "u": CLIENTS * SPANS}
