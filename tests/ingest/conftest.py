"""One running service for the ingest tests: OTLP + ingest receivers, auth and parent
linking, the read API; every test uses its own project."""
from __future__ import annotations

import pytest

from tests.support.running import RunningService, start_service

INGEST_CONFIG = """
extensions:
  storage:
    endpoint: chdb://{chdb}
  wal:
    directory: {data}/wal
  keystore:
    path: {data}/keystore.db
    bootstrap_default_key: false
  api:
    endpoint: 127.0.0.1:{port}
    wal: wal
receivers:
  otlp:
    endpoint: 127.0.0.1:{port}
    wal: wal
  ingest:
    endpoint: 127.0.0.1:{port}
    wal: wal
processors:
  auth:
  parent_link:
exporters:
  clickhouse:
service:
  extensions: [storage, wal, keystore, api]
  pipelines:
    traces:
      receivers: [otlp, ingest]
      processors: [auth, parent_link]
      exporters: [clickhouse]
"""


@pytest.fixture(scope="session")
def ingest_service(tmp_path_factory, chdb_path) -> RunningService:
    rs = start_service(INGEST_CONFIG, tmp_path_factory.mktemp("ingest"), chdb_path)
    yield rs
    rs.stop()
