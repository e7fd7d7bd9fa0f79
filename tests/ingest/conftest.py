"""One running service for the ingest tests: OTLP + ingest receivers, auth and parent
linking, the read API; every test uses its own project."""
from __future__ import annotations

import pytest

from tests.support.running import RunningService, start_service

INGEST_CONFIG = """
extensions:
  storage:
    endpoint: chdb://{chdb}
  keystore:
    path: {data}/keystore.db
    bootstrap_default_key: false
  api:
    endpoint: 127.0.0.1:{port}
receivers:
  otlp:
    endpoint: 127.0.0.1:{port}
  ingest:
    endpoint: 127.0.0.1:{port}
processors:
  auth:
  parent_link:
exporters:
  clickhouse:
service:
  extensions: [storage, keystore, api]
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
