"""Keyset pages list every trace exactly once while a thread keeps ingesting newer traces."""
from __future__ import annotations

import threading

from .helpers import T0, client, llm_trace, new_key, post


def test_pages_while_ingest_runs(api_service, project):
    key = new_key(api_service, project)
    before = set()
    for batch in range(4):
        spans = []
        for i in range(10):
            s, tid = llm_trace(T0 + (batch * 10 + i) * 1_000_000_000)
            spans += s
            before.add(tid)
        post(api_service, key, spans)
    stop, added, errors = threading.Event(), set(), []

    def ingest() -> None:
        n = 0
        try:
            while not stop.is_set():
                s, tid = llm_trace(T0 + 3_600_000_000_000 + n * 1_000_000_000)
                post(api_service, key, s)
                added.add(tid)
                n += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=ingest)
    thread.start()
    http = client(api_service, key)
    try:
        seen, cursor = [], None
        while True:
            r = http.get("/api/v1/traces", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            seen += [row["id"] for row in r.json()["data"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        thread.join(30)
    assert not errors and added, "the ingest thread must have posted traces while we paged"
    assert len(seen) == len(set(seen)), "a trace was listed twice"
    assert before <= set(seen), "a trace stored before paging began was skipped"
    assert set(seen) <= before | added
