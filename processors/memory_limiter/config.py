"""Settings of the memory_limiter processor, and the machine memory its automatic limit is a share of."""
from __future__ import annotations

import os
from dataclasses import dataclass

from spanlens_pipeline.confschema import Millis
from spanlens_pipeline.errors import ConfigError

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


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
        limits.append(os.sysconf("SC_PHYS_PAGES") * PAGE_SIZE)
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
