"""One running service for the read API tests: OTLP in (auth, genai, cost), the api
extension out; every test uses its own projects (and organizations)."""
from __future__ import annotations

import pytest

from tests.support.config import BASE, service_config
from tests.support.running import RunningService, start_service

# The test default plus the api extension on the service's own port.
API_CONFIG = service_config(extensions={**BASE["extensions"], "api": {"endpoint": "127.0.0.1:{port}"}})


@pytest.fixture(scope="session")
def api_service(tmp_path_factory, chdb_path) -> RunningService:
    rs = start_service(API_CONFIG, tmp_path_factory.mktemp("api"), chdb_path)
    yield rs
    rs.stop()
