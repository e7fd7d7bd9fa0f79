"""The running service stores OTLP requests from its log the same way on both paths: the SQL
bulk insert (``otlp_path: sql``) and the record path give the same rows for the golden corpus,
and the bulk insert really is the one storing them (its counter moves)."""
from __future__ import annotations

import httpx

from spanlens_pipeline.model import SPAN_COLUMNS

from ..exporters.bulk_corpus import requests
from ..support.config import BASE, service_config

COMPARED = [c for c in SPAN_COLUMNS if c not in ("project_id", "organization_id")]
PROCESSORS = {"auth": None, "genai": None, "parent_link": None, "cost": None, "truncation": None}


def _config(path: str) -> str:
    return service_config(
        extensions={**BASE["extensions"], "wal": {"directory": "{data}/wal-" + path}},
        receivers={"otlp": {"endpoint": "127.0.0.1:{port}", "wal": "wal"}},
        processors=PROCESSORS, exporters={"clickhouse": {"otlp_path": path}})


def _send(rs, key: str, corpus: list[tuple[str, bytes]]) -> None:
    with httpx.Client(base_url=rs.url, timeout=30, headers={"authorization": f"Bearer {key}",
                                                             "content-type": "application/x-protobuf"}) as c:
        for name, body in corpus:
            r = c.post("/v1/traces", content=body)
            assert r.status_code == 200, (name, r.content)
    rs.drain()


def _rows(store, project_id: str) -> list[tuple]:
    cols = ", ".join(COMPARED)
    return [tuple(r.values()) for r in store.query(
        f"SELECT {cols} FROM spanlens.spans FINAL WHERE project_id = %(p)s ORDER BY trace_id, span_id",
        {"p": project_id})]


def _bulk_spans(rs) -> float:
    for line in httpx.get(rs.url + "/metrics").text.splitlines():
        if line.startswith("spanlens_exporter_bulk_spans_total{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_sql_and_record_paths_store_the_same_rows(service_factory, store, project):
    projects = {}
    corpus = requests()  # the same bodies (and ids) to both, in two projects
    for path in ("records", "sql"):
        rs = service_factory(_config(path))
        key = rs.new_key(f"{project}-{path}")
        before = _bulk_spans(rs)
        _send(rs, key, corpus)
        moved = _bulk_spans(rs) - before
        assert (moved > 0) == (path == "sql"), (path, moved)
        projects[path] = rs.service.extensions["keystore"].authenticate(  # type: ignore[attr-defined]
            {"authorization": f"Bearer {key}"}, False).project_id
        rs.stop()
    record_rows, sql_rows = _rows(store, projects["records"]), _rows(store, projects["sql"])
    assert len(record_rows) > 50
    assert sql_rows == record_rows


def test_a_pipeline_the_bulk_insert_cannot_serve_takes_the_record_path(service_factory, store, project):
    """Two exporters (here clickhouse beside nop) cannot share one SQL insert: records it is."""
    config = service_config(
        extensions={**BASE["extensions"], "wal": {"directory": "{data}/wal-two"}},
        receivers={"otlp": {"endpoint": "127.0.0.1:{port}", "wal": "wal"}},
        processors=PROCESSORS, exporters={"clickhouse": {"otlp_path": "sql"}, "nop": None})
    rs = service_factory(config)
    key = rs.new_key(project)
    before = _bulk_spans(rs)
    corpus = requests()[:5]
    _send(rs, key, corpus)
    assert _bulk_spans(rs) == before
    pid = rs.service.extensions["keystore"].authenticate(  # type: ignore[attr-defined]
        {"authorization": f"Bearer {key}"}, False).project_id
    assert _rows(store, pid)
