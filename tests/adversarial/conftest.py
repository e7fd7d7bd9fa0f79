"""One service for the adversarial suite (OTLP, ingest and proxy on one port) and a watcher
that polls /health from a side thread while an attack runs."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.running import RunningService, start_service

CONFIG = """
extensions:
  storage:
    endpoint: chdb://{chdb}
  keystore:
    path: {data}/keystore.db
    bootstrap_default_key: false
receivers:
  otlp:
    endpoint: 127.0.0.1:{port}
  ingest:
    endpoint: 127.0.0.1:{port}
  proxy:
    endpoint: 127.0.0.1:{port}
    providers:
      openai:
        api_base: http://127.0.0.1:9/v1
processors:
  memory_limiter:
  auth:
  genai:
  cost:
exporters:
  clickhouse:
service:
  extensions: [storage, keystore]
  pipelines:
    traces:
      receivers: [otlp, ingest, proxy]
      processors: [memory_limiter, auth, genai, cost]
      exporters: [clickhouse]
"""


@pytest.fixture(scope="session")
def hostile_service(tmp_path_factory, chdb_path, store) -> RunningService:
    rs = start_service(CONFIG, tmp_path_factory.mktemp("adversarial"), chdb_path)
    yield rs
    rs.stop()


@dataclass
class HealthWatch:
    """Polls /health every 50 ms; ``slowest`` is the longest answer, ``failures`` any non-200."""

    url: str
    slowest: float = 0.0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=5) as c:
            while not self._stop.is_set():
                t0 = time.monotonic()
                try:
                    status = c.get(self.url).status_code
                    if status != 200:
                        self.failures.append(str(status))
                except httpx.HTTPError as exc:
                    self.failures.append(type(exc).__name__)
                self.slowest = max(self.slowest, time.monotonic() - t0)
                self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture
def health_watch(hostile_service):
    watch = HealthWatch(hostile_service.url + "/health")
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    yield watch
    watch.stop()
    thread.join(10)
    # A liveness bound, not a benchmark: the loop must never be blocked for a second.
    assert watch.slowest < 1.0, f"/health took {watch.slowest:.2f}s during the attack"
    assert not watch.failures, watch.failures
