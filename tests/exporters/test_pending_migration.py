"""Migration 0020 moves waiting ends that earlier versions kept in spans (trace_id '') into
pending_ends: one already copied under its trace moves resolved, the others stay waiting."""
from __future__ import annotations

import uuid

from spanlens_pipeline.extensions.storage import schema


def test_waiting_rows_leave_spans(store):
    db = f"mig_{uuid.uuid4().hex[:8]}"
    store.command(f"CREATE DATABASE {db}")
    store.command(f"CREATE TABLE {db}.schema_migrations (version UInt32, name String, applied_at DateTime "
                  "DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version")
    for mig in schema.available():
        if mig.version < 4:
            for stmt in mig.statements(db):
                store.command(stmt)
            store.command(f"INSERT INTO {db}.schema_migrations (version, name) VALUES ({mig.version}, '{mig.name}')")
    store.command(f"INSERT INTO {db}.spans (project_id, organization_id, trace_id, span_id, name, input_tokens) VALUES "
                  "('p', 'o', 't1', 'copied', 'a', NULL), ('p', 'o', '', 'copied', NULL, 5), "
                  "('p', 'o', '', 'waiting', NULL, 7), ('p', 'o', 't1', 'copied', NULL, 5)")
    applied = [m.version for m in schema.migrate(store, db)]
    assert 20 in applied
    spans = store.query(f"SELECT trace_id, span_id, input_tokens FROM {db}.spans FINAL")
    assert spans == [{"trace_id": "t1", "span_id": "copied", "input_tokens": 5}]
    pending = store.query(f"SELECT span_id, input_tokens, resolved FROM {db}.pending_ends FINAL ORDER BY span_id")
    assert pending == [{"span_id": "copied", "input_tokens": 5, "resolved": True},
                       {"span_id": "waiting", "input_tokens": 7, "resolved": False}]
    traces = store.query(f"SELECT span_count, input_tokens FROM {db}.traces")
    assert traces == [{"span_count": 1, "input_tokens": 5}]
    store.command(f"DROP DATABASE {db}")
