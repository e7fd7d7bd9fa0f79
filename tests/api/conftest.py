"""One running service for the read API tests: OTLP in (auth, genai, cost), the api
extension out; every test uses its own projects (and organizations)."""
from __future__ import annotations

import pytest

from tests.support.running import RunningService, start_service

API_CONFIG = """
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
processors:
  auth:
  genai:
  cost:
exporters:
  clickhouse:
service:
  extensions: [storage, keystore, api]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [auth, genai, cost]
      exporters: [clickhouse]
"""


@pytest.fixture(scope="session")
def api_service(tmp_path_factory, chdb_path) -> RunningService:
    rs = start_service(API_CONFIG, tmp_path_factory.mktemp("api"), chdb_path)
    yield rs
    rs.stop()
