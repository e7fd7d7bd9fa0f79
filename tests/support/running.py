"""Run a real service inside the test process (its own event loop in a thread) or as a subprocess."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from spanlens_pipeline import config as config_mod
from spanlens_pipeline.extensions.keystore import ClickHouseKeyStore, KeyStore
from spanlens_pipeline.service import Service

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningService:
    """A service started from YAML; ``url`` is its base URL, ``keystore`` its key store."""

    service: Service
    url: str
    keystore_path: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def new_key(self, project: str, public: bool = False) -> str:
        shared = self.service.extensions["keystore"].store
        if isinstance(shared, ClickHouseKeyStore):  # the service's own: written to the server, seen at once
            return shared.create_key(project, public=public)[0]
        store = KeyStore(self.keystore_path)  # a connection of its own, as the CLI has
        try:
            return store.create_key(project, public=public)[0]
        finally:
            store.close()

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)

    def drain(self, timeout: float = 30) -> None:
        """Wait until everything the service acknowledged through a write-ahead log is stored."""
        for ext in self.service.extensions.values():
            caught_up = getattr(ext, "caught_up", None)
            if caught_up is not None:
                done = asyncio.run_coroutine_threadsafe(caught_up(timeout), self.loop).result(timeout + 5)
                assert done, "the write-ahead log did not drain in time"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.service.request_stop)
            self.thread.join(60)
        if self.errors:
            raise self.errors[0]


def start_service(yaml_text: str, data_dir: Path, chdb_path: str, env: dict[str, str] | None = None) -> RunningService:
    """Start a service in a thread. ``{port}``, ``{data}`` and ``{chdb}`` in the YAML are filled in."""
    port = free_port()
    text = yaml_text.replace("{port}", str(port)).replace("{data}", str(data_dir)).replace("{chdb}", chdb_path)
    cfg = config_mod.parse(text, source="test")
    keystore_path = next((c.config.path for c in cfg.of_kind(config_mod.Kind.EXTENSION) if c.factory.type == "keystore"), "")
    started = threading.Event()
    holder: dict = {}

    def runner() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        asyncio.set_event_loop(loop)
        service = Service(cfg)
        holder["service"] = service

        async def main() -> None:
            try:
                await service.start()
            except BaseException as exc:
                holder["error"] = exc
                started.set()
                return
            started.set()
            await service._stop.wait()
            await service.shutdown()

        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced by stop()
            holder.setdefault("late_errors", []).append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    if not started.wait(60):
        raise TimeoutError("service did not start")
    if "error" in holder:
        raise holder["error"]
    rs = RunningService(holder["service"], f"http://127.0.0.1:{port}", keystore_path, holder["loop"], thread)
    rs.errors = holder.setdefault("late_errors", [])
    return rs


def run_cli(*args: str, config: str | None = None, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m spanlens_pipeline`` in a subprocess."""
    cmd = [sys.executable, "-m", "spanlens_pipeline", *args]
    if config:
        cmd += ["--config", config]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          input=input, timeout=timeout, cwd=REPO)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)
