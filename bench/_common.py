"""Shared parts of the benchmark scripts: a real service subprocess on a copy of the default
config, free ports, CPU and memory of a process from /proc, percentiles, counting rows
through the service's read-only SQL endpoint, and waiting for stored rows to settle.

Every script runs from a checkout (``python bench/<script>.py``); the service runs as
``python -m spanlens_pipeline run`` in its own temporary data directory, so its numbers
are the shipped code's, and this process is only the load generator.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "config" / "default.yaml"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    """Cores and the load average now: figures taken while other processes run are not comparable."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {one:.1f} (1 min) {five:.1f} (5 min)"


def pct(values: list[float], p: float) -> float:
    """The p-quantile (0..1) of values, nearest rank; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# -- /proc ------------------------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    """pid and its descendants (a service might start helpers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live descendants, in seconds."""
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICK


def quiesce(pid: int, share: float = 0.05, window: float = 0.5, limit: float = 30.0) -> None:
    """Wait until the process uses under ``share`` of a core over ``window`` seconds, so CPU
    read afterwards includes the work it deferred (batched writes after the answers)."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        c0 = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - c0 < share * window:
            return


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_mib(pid: int) -> float:
    """Resident set size now, of the process and its descendants."""
    return sum(_status_kib(p, "VmRSS") for p in _tree(pid)) / 1024


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) since the process started."""
    return sum(_status_kib(p, "VmHWM") for p in _tree(pid)) / 1024


# -- the service --------------------------------------------------------------------------
def default_config(exporter: str = "clickhouse", edit: Callable[[dict[str, Any]], None] | None = None) -> str:
    """The default config's YAML; with ``exporter='nop'`` the pipeline's exporters are replaced
    by the null exporter, and ``edit`` may change the parsed document further. Unchanged, the
    file is copied verbatim, so whatever the default config sets (a log, a loader) is kept."""
    text = DEFAULT_CONFIG.read_text()
    if exporter == "clickhouse" and edit is None:
        return text
    doc = yaml.safe_load(text)
    if exporter != "clickhouse":
        doc["exporters"] = {exporter: None}
        for pipeline in doc["service"]["pipelines"].values():
            pipeline["exporters"] = [exporter]
    if edit is not None:
        edit(doc)
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass
class Service:
    """A ``spanlens-pipeline run`` subprocess with its own data directory, ports and key."""

    exporter: str = "clickhouse"
    edit: Callable[[dict[str, Any]], None] | None = None
    setup: Callable[[Any, Any], None] | None = None  # called with (KeyStore, KeyInfo) of the bench key
    env: dict[str, str] = field(default_factory=dict)
    data: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="spanlens-bench-")))
    port: int = field(default_factory=free_port)
    sql_port: int = field(default_factory=free_port)
    sql_password: str = field(default_factory=lambda: "bench-" + secrets.token_hex(8))
    key: str = ""
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Service:
        cfg = self.data / "config.yaml"
        cfg.write_text(default_config(self.exporter, self.edit))
        env = {**os.environ, "SPANLENS_DATA_DIR": str(self.data), "SPANLENS_ENDPOINT": f"127.0.0.1:{self.port}",
               "SPANLENS_SQL_ENDPOINT": f"127.0.0.1:{self.sql_port}", "SPANLENS_SQL_PASSWORD": self.sql_password,
               **self.env}
        self.key = self._create_key()
        self._log = open(self.data / "service.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "spanlens_pipeline", "run", "--config", str(cfg)],
                                     cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SystemExit(f"service did not start:\n{(self.data / 'service.log').read_text()[-3000:]}")

    def _create_key(self) -> str:
        from spanlens_pipeline.extensions.keystore import KeyStore

        store = KeyStore(str(self.data / "keystore.db"))
        try:
            raw, info = store.create_key("bench")
            if self.setup is not None:
                self.setup(store, info)
            return raw
        finally:
            store.close()

    def sql(self) -> Any:
        """A clickhouse-connect client on the service's read-only SQL endpoint."""
        import clickhouse_connect

        return clickhouse_connect.get_client(host="127.0.0.1", port=self.sql_port, username="spanlens",
                                             password=self.sql_password, database="spanlens")

    def count(self, query: str) -> int:
        client = self.sql()
        try:
            return int(client.command(query))
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.data, ignore_errors=True)

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def settle(count: Callable[[], int], expected: int, quiet: float = 5.0, limit: float = 600.0,
           every: float = 0.5) -> tuple[int, float]:
    """Poll ``count`` until it reaches ``expected`` or stops growing for ``quiet`` seconds.
    Returns the last count and the seconds from the call to the last growth (the drain time)."""
    t0 = time.perf_counter()
    last, grown = count(), t0
    while last < expected and time.perf_counter() - grown < quiet and time.perf_counter() - t0 < limit:
        time.sleep(every)
        now = count()
        if now != last:
            last, grown = now, time.perf_counter()
    return last, (grown - t0 if last else 0.0)
