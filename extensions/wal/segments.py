"""The log on disk: numbered segment files of framed entries, and a checkpoint.

A frame is an 8-byte header (payload length and CRC-32, both little-endian u32) and the
payload. Segments are named by a growing number (``0000000000000007.wal``); appends go
to the newest one, and a new one is started when it passes ``segment_size`` and at every
open, so a segment never changes once a later one exists. The checkpoint names the first
byte not yet stored (segment and offset); segments wholly before it are deleted.

On open, each segment is scanned and cut at its first bad frame: an append cut short by
a crash was never acknowledged, so dropping it loses nothing a client was promised.

Not thread-safe by itself: one thread appends, one reads and commits (``WriteAheadLog``
keeps it so); the two share only ``_ends``, under a lock.
"""
from __future__ import annotations

import fcntl
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

HEADER = struct.Struct("<II")
SUFFIX = ".wal"
CHECKPOINT = "checkpoint"
LOCK = "lock"


class LogInUse(RuntimeError):
    """Another process has this log open."""


@dataclass(frozen=True, order=True)
class Position:
    """A place in the log: a segment number and a byte offset in it."""

    segment: int
    offset: int


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _valid_length(data: bytes) -> int:
    """How many leading bytes of ``data`` are whole frames with a correct checksum."""
    at, size = 0, len(data)
    while at + HEADER.size <= size:
        length, crc = HEADER.unpack_from(data, at)
        end = at + HEADER.size + length
        if end > size or zlib.crc32(data[at + HEADER.size:end]) != crc:
            break
        at = end
    return at


class Segments:
    def __init__(self, directory: str, segment_size: int, fsync: bool) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise LogInUse(f"the write-ahead log in {self.dir} is in use by another process") from None
        self.segment_size = segment_size
        self.fsync = fsync
        self._lock = threading.Lock()
        self._ends: dict[int, int] = {}  # segment → bytes of whole frames in it
        self.appended = 0  # bytes of frames to load since open: what was waiting, then every append
        self.checkpoint = self._read_checkpoint()
        for number in self._numbers():
            path = self._path(number)
            if number < self.checkpoint.segment:
                path.unlink()
                continue
            data = path.read_bytes()
            valid = _valid_length(data)
            if valid < len(data):
                with open(path, "r+b") as f:
                    f.truncate(valid)
            self._ends[number] = valid
        if not self._ends:
            self.checkpoint = Position(max(self.checkpoint.segment, 1), 0)
        self._current = max(self._ends, default=self.checkpoint.segment - 1) + 1
        self.appended = self.pending_bytes
        self._fd = self._open_segment(self._current)

    # -- files ------------------------------------------------------------------------
    def _numbers(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob(f"*{SUFFIX}") if p.stem.isdigit())

    def _path(self, number: int) -> Path:
        return self.dir / f"{number:016d}{SUFFIX}"

    def _open_segment(self, number: int) -> int:
        fd = os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with self._lock:
            self._ends[number] = 0
        if self.fsync:
            self._sync_dir()
        return fd

    def _sync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _read_checkpoint(self) -> Position:
        try:
            segment, offset = (self.dir / CHECKPOINT).read_text().split()
            return Position(int(segment), int(offset))
        except (FileNotFoundError, ValueError):
            return Position(0, 0)

    # -- state --------------------------------------------------------------------------
    @property
    def pending_bytes(self) -> int:
        """Bytes of entries not yet stored."""
        with self._lock:
            total = sum(end for number, end in self._ends.items() if number >= self.checkpoint.segment)
        return total - self.checkpoint.offset

    @property
    def end(self) -> Position:
        with self._lock:
            return Position(self._current, self._ends[self._current])

    # -- writing (one thread) -------------------------------------------------------
    def append(self, frames: list[bytes]) -> None:
        """Write whole frames to the newest segment, synced to disk when ``fsync`` is on.

        On an error nothing of this call stays in the file (it is cut back), so a later
        append never follows a torn frame."""
        data = b"".join(frames)
        end = self._ends[self._current]
        if end and end + len(data) > self.segment_size:
            os.close(self._fd)
            self._current += 1
            self._fd = self._open_segment(self._current)
            end = 0
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            if self.fsync:
                os.fdatasync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, end)
            except OSError:
                pass
            raise
        with self._lock:
            self._ends[self._current] = end + len(data)
            self.appended += len(data)

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._lock_fd)  # releases the lock

    # -- reading and committing (one thread) -------------------------------------
    def read(self, start: Position, max_bytes: int) -> tuple[list[bytes], Position]:
        """Payloads of the whole frames from ``start`` (about ``max_bytes`` of them) and where they end."""
        payloads: list[bytes] = []
        at = start
        taken = 0
        while taken < max_bytes:
            with self._lock:
                end = self._ends.get(at.segment)
                later = any(number > at.segment for number in self._ends)
            if end is None or at.offset >= end:
                if not later:
                    break
                at = Position(at.segment + 1, 0)
                continue
            with open(self._path(at.segment), "rb") as f:
                f.seek(at.offset)
                data = f.read(min(end - at.offset, max(max_bytes - taken, HEADER.size)))
                if not payloads and len(data) >= HEADER.size:  # the first frame is read whole, however large
                    length, _ = HEADER.unpack_from(data)
                    if HEADER.size + length > len(data):
                        data += f.read(HEADER.size + length - len(data))
            offset = 0
            while offset + HEADER.size <= len(data):
                length, _ = HEADER.unpack_from(data, offset)
                stop = offset + HEADER.size + length
                if stop > len(data):
                    break
                payloads.append(data[offset + HEADER.size:stop])
                offset = stop
            at = Position(at.segment, at.offset + offset)
            taken += offset
            if offset == 0:
                break
        return payloads, at

    def commit(self, position: Position) -> None:
        """Record that everything before ``position`` is stored; delete the segments it passed."""
        tmp = self.dir / f"{CHECKPOINT}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{position.segment} {position.offset}\n")
            if self.fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, self.dir / CHECKPOINT)
        self.checkpoint = position
        with self._lock:
            done = [number for number in self._ends if number < position.segment]
            for number in done:
                del self._ends[number]
        for number in done:
            self._path(number).unlink(missing_ok=True)
