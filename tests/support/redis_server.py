"""A real Redis server for the tests: ``redis-server`` on a free loopback port, no persistence."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from .running import free_port


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start ``redis-server`` (install it with ``make redis-server``); returns (process, URL)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed: run `make redis-server` (apt-get install -y redis-server)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise TimeoutError("redis-server did not start")
