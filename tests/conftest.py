"""Shared fixtures.

The embedded engine (chdb) allows one data directory per process, so every in-process
service of a test session writes into the same store (``chdb_path``); tests keep apart by
using their own project (a fresh key per test), exactly as tenants do.
"""
from __future__ import annotations

import uuid

import pytest

from spanlens_pipeline.extensions.keystore import ClickHouseKeyStore
from spanlens_pipeline.extensions.storage import Store, schema
from tests.support.config import service_config

from .support.running import RunningService, start_service

BASE_CONFIG = service_config()  # OTLP → auth, genai, cost → clickhouse, on the shared store


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("chdb"))


@pytest.fixture(scope="session")
def store(chdb_path) -> Store:
    """The shared embedded store, with the schema in place."""
    st = Store(f"chdb://{chdb_path}")
    schema.migrate(st, "spanlens")
    return st


@pytest.fixture
def service_factory(tmp_path, chdb_path):
    """Start services from YAML (``{port}``, ``{data}``, ``{chdb}`` are filled in); stopped at teardown."""
    started: list[RunningService] = []

    def make(yaml_text: str = BASE_CONFIG) -> RunningService:
        rs = start_service(yaml_text, tmp_path, chdb_path)
        started.append(rs)
        return rs

    yield make
    for rs in started:
        rs.stop()


@pytest.fixture
def service(service_factory) -> RunningService:
    """The default pipeline: otlp → auth → clickhouse."""
    return service_factory()


@pytest.fixture
def project() -> str:
    """A project name unique to the test."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def replica_keystores(store, tmp_path):
    """Two ClickHouse key stores ("replicas") on a fresh database of the shared engine."""
    db = f"ks_{uuid.uuid4().hex[:8]}"
    schema.migrate(store, db)
    a = ClickHouseKeyStore(store, db, str(tmp_path / "a.db"))
    b = ClickHouseKeyStore(store, db, str(tmp_path / "b.db"))
    yield a, b
    a.close()
    b.close()
    store.command(f"DROP DATABASE {db}")
