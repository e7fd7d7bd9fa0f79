"""memory_limiter processor: refuse new data with a retryable 503 while the process is near
its memory limit, instead of growing until the system kills it.

Put it first in the chain: its check runs before a request body is decoded. The resident
set size is read from ``/proc/self/statm`` at most once per ``check_interval``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from spanlens_pipeline import metrics
from spanlens_pipeline.component import Factory, Kind, Processor, Settings
from spanlens_pipeline.confschema import Millis
from spanlens_pipeline.errors import ConfigError, Unavailable
from spanlens_pipeline.model import RequestContext

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """This process's resident set size (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def machine_memory_bytes() -> int:
    """The memory this process may use: its cgroup's limit when set, else physical memory (0 if unknown)."""
    limits = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            limits.append(int(text))
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * _PAGE)
    except (ValueError, OSError, AttributeError):
        pass
    return min(limits) if limits else 0


AUTO_FRACTION = 0.8


@dataclass
class Config:
    limit_mib: int = 0  # hard limit; 0 = auto (80% of the cgroup limit or physical memory), -1 = off
    spike_limit_mib: int = 0  # headroom kept free; default 20% of the limit
    check_interval: Millis = Millis(1000)

    def validate(self, path: str) -> None:
        if self.limit_mib < -1 or self.spike_limit_mib < 0:
            raise ConfigError(path, "limit_mib must be -1 (off), 0 (auto) or a size in MiB; spike_limit_mib >= 0")
        if self.limit_mib > 0 and self.spike_limit_mib >= self.limit_mib:
            raise ConfigError(f"{path}::spike_limit_mib", "must be smaller than limit_mib")

    @property
    def effective_limit_mib(self) -> int:
        """The hard limit in force (0 when off or when the machine's memory is unknown)."""
        if self.limit_mib > 0:
            return self.limit_mib
        if self.limit_mib < 0:
            return 0
        return int(machine_memory_bytes() * AUTO_FRACTION) // (1024 * 1024)

    @property
    def soft_limit_bytes(self) -> int:
        limit = self.effective_limit_mib
        spike = self.spike_limit_mib if 0 < self.spike_limit_mib < limit else limit // 5
        return (limit - spike) * 1024 * 1024


class MemoryLimiter(Processor):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self._checked_at = float("-inf")
        self._over = False
        self._soft_limit = config.soft_limit_bytes
        self.refused = metrics.counter("spanlens_memory_limiter_refused_total",
                                       "Requests refused because memory use was over the soft limit")

    async def admit(self, ctx: RequestContext) -> None:
        if not self._soft_limit:
            return
        now = time.monotonic()
        if now - self._checked_at >= self.config.check_interval / 1000:
            self._checked_at = now
            self._over = rss_bytes() > self._soft_limit
        if self._over:
            self.refused.inc()
            raise Unavailable("Memory use is over the limit; retry later", headers={"Retry-After": "1"})


factory = Factory(type="memory_limiter", kind=Kind.PROCESSOR, config=Config, create=MemoryLimiter)
