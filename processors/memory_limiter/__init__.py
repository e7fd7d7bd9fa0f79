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


@dataclass
class Config:
    limit_mib: int = 0  # hard limit; 0 turns the processor off
    spike_limit_mib: int = 0  # headroom kept free; default 20% of limit_mib
    check_interval: Millis = Millis(1000)

    def validate(self, path: str) -> None:
        if self.limit_mib < 0 or self.spike_limit_mib < 0:
            raise ConfigError(path, "limits must not be negative")
        if self.limit_mib and self.spike_limit_mib >= self.limit_mib:
            raise ConfigError(f"{path}::spike_limit_mib", "must be smaller than limit_mib")

    @property
    def soft_limit_bytes(self) -> int:
        spike = self.spike_limit_mib or self.limit_mib // 5
        return (self.limit_mib - spike) * 1024 * 1024


class MemoryLimiter(Processor):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self._checked_at = float("-inf")
        self._over = False
        self.refused = metrics.counter("spanlens_memory_limiter_refused_total",
                                       "Requests refused because memory use was over the soft limit")

    async def admit(self, ctx: RequestContext) -> None:
        if not self.config.limit_mib:
            return
        now = time.monotonic()
        if now - self._checked_at >= self.config.check_interval / 1000:
            self._checked_at = now
            self._over = rss_bytes() > self.config.soft_limit_bytes
        if self._over:
            self.refused.inc()
            raise Unavailable("Memory use is over the limit; retry later", headers={"Retry-After": "1"})


factory = Factory(type="memory_limiter", kind=Kind.PROCESSOR, config=Config, create=MemoryLimiter)
