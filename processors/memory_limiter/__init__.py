"""memory_limiter processor: refuse new data with a retryable 503 while the process is near
its memory limit, instead of growing until the system kills it.

Put it first in the chain: its check runs before a request body is decoded. The resident
set size is read from ``/proc/self/statm`` at most once per ``check_interval``.
"""
from __future__ import annotations

import time

from spanlens_pipeline import metrics
from spanlens_pipeline.bulksql import SqlStep
from spanlens_pipeline.component import Factory, Kind, Processor, Settings
from spanlens_pipeline.errors import Unavailable
from spanlens_pipeline.model import RequestContext

from .config import PAGE_SIZE, Config


def rss_bytes() -> int:
    """This process's resident set size (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return 0


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


    def bulk_sql(self) -> SqlStep:
        """Bulk path: nothing to do per span (the limit is checked when a request is received)."""
        return SqlStep(())

factory = Factory(type="memory_limiter", kind=Kind.PROCESSOR, config=Config, create=MemoryLimiter)
