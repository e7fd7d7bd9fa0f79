"""A disk spool: rows the store cannot take right now, kept in order until it can.

Each file holds the parts of one write group: per part, a JSON header line
(``table``, ``columns``, ``fmt``, ``rows``, ``size``) followed by ``size`` bytes of rows.
A file is written under a temporary name, synced and renamed, so a file that exists is
complete. Files are named by a growing sequence number and drained oldest first; while
any file waits, new writes are spooled behind it, so rows reach the store in the order
they were accepted (which partial span records rely on).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import orjson

from .part import Part

_SUFFIX = ".spool"


class Spool:
    def __init__(self, directory: str, max_bytes: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        for stale in self.dir.glob("*.tmp"):  # an append cut short by a crash: never acknowledged
            stale.unlink()
        self._files = sorted(self.dir.glob("*" + _SUFFIX))
        self._next = int(self._files[-1].stem) + 1 if self._files else 1
        self.bytes = sum(f.stat().st_size for f in self._files)

    def __len__(self) -> int:
        return len(self._files)

    def has_room(self, nbytes: int) -> bool:
        return self.bytes + nbytes <= self.max_bytes

    def append(self, parts: list[Part]) -> None:
        """Write ``parts`` as one durable file (synced before returning)."""
        chunks = []
        for p in parts:
            head = {"table": p.table, "columns": list(p.columns), "fmt": p.fmt, "rows": p.rows, "size": len(p.body)}
            chunks += [orjson.dumps(head), b"\n", p.body]
        data = b"".join(chunks)
        with self._lock:
            path = self.dir / f"{self._next:012d}{_SUFFIX}"
            self._next += 1
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _sync_dir(self.dir)
            self._files.append(path)
            self.bytes += len(data)

    def oldest(self) -> tuple[Path, list[Part]] | None:
        with self._lock:
            if not self._files:
                return None
            path = self._files[0]
        return path, _read(path)

    def remove(self, path: Path) -> None:
        with self._lock:
            self.bytes -= path.stat().st_size
            path.unlink()
            self._files.remove(path)

    def set_aside(self, path: Path) -> None:
        """Keep a file the store refuses out of the queue (renamed ``*.rejected``)."""
        with self._lock:
            self.bytes -= path.stat().st_size
            path.rename(path.with_suffix(".rejected"))
            self._files.remove(path)


def _read(path: Path) -> list[Part]:
    data, parts, at = path.read_bytes(), [], 0
    while at < len(data):
        end = data.index(b"\n", at)
        head = orjson.loads(data[at:end])
        body = data[end + 1:end + 1 + head["size"]]
        parts.append(Part(head["table"], tuple(head["columns"]), head["fmt"], body, head["rows"]))
        at = end + 1 + head["size"]
    return parts


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
