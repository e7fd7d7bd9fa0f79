"""Real service processes for the tests: ``spanlens-pipeline run`` (and the ClickHouse HTTP
front) as subprocesses, started, waited for and stopped the same way everywhere."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .running import REPO, free_port, wait_http


@dataclass
class ServiceProcess:
    """A ``spanlens-pipeline run`` subprocess; ``url`` is its base URL, its output in ``log``."""

    proc: subprocess.Popen
    url: str
    env: dict[str, str]
    log: Path

    def wait_ready(self, timeout: float = 90) -> ServiceProcess:
        """Wait for ``/health`` to answer 200; fails at once if the process ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"service did not become healthy (exit code {self.proc.poll()}); "
                           f"its output:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (a graceful stop), then kill if it does not end; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(30)


def start_service_process(env: dict[str, str], config: str | None = None, log: Path | None = None,
                          port: int | None = None) -> ServiceProcess:
    """Start ``run`` (``--config`` if given) on ``127.0.0.1:<port>`` (``SPANLENS_ENDPOINT``); not waited for."""
    port = port or free_port()
    full = {**os.environ, "SPANLENS_ENDPOINT": f"127.0.0.1:{port}", **env}
    log = log or Path(full.get("SPANLENS_DATA_DIR", ".")) / "service.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "spanlens_pipeline", "run"] + (["--config", config] if config else [])
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=full, stdout=out, stderr=subprocess.STDOUT)
    return ServiceProcess(proc, f"http://127.0.0.1:{port}", full, log)


def start_clickhouse_http(data_dir: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """The ClickHouse HTTP front over chdb (``chshim``) in its own process; (process, URL)."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.chshim", str(port), str(data_dir)], cwd=REPO)
    try:
        wait_http(f"http://127.0.0.1:{port}/ping")
    except TimeoutError:
        proc.kill()
        raise
    return proc, f"http://127.0.0.1:{port}"
