"""Building limiters and tenants for the ratelimit tests."""
from __future__ import annotations

import calendar
import uuid

import pytest

from spanlens_pipeline.confschema import decode
from spanlens_pipeline.errors import RateLimited
from spanlens_pipeline.extensions.ratelimit import Config, Limiter
from spanlens_pipeline.model import Tenant

NS = 1_000_000_000
# 2030-05-10 12:00:00 UTC; May has 31 days.
MAY_10 = calendar.timegm((2030, 5, 10, 12, 0, 0))
JUNE_1 = calendar.timegm((2030, 6, 1, 0, 0, 0))
MAY_SECONDS = 31 * 86400


class Clock:
    """A hand-moved clock: monotonic nanoseconds and wall seconds advance together."""

    def __init__(self, wall: float = MAY_10) -> None:
        self.wall_s, self.mono_ns = wall, 10 * NS

    def advance(self, seconds: float) -> None:
        self.wall_s += seconds
        self.mono_ns += int(seconds * NS)

    def mono(self) -> int:
        return self.mono_ns

    def wall(self) -> float:
        return self.wall_s


def tenant(org: str = "org-1", project: str = "proj-1", key: str = "key-1") -> Tenant:
    return Tenant(org, project, f"{project}-name", key, f"sl_live_{key[-8:]:0>8}", "full")


def limiter(settings: dict, clock: Clock | None = None, db=None) -> Limiter:
    clock = clock or Clock()
    return Limiter(decode(Config, settings, "extensions::ratelimit"), db, mono=clock.mono, wall=clock.wall)


def denied(lim: Limiter, t: Tenant, end_user: str | None = None) -> RateLimited:
    with pytest.raises(RateLimited) as info:
        lim.check(t, end_user)
    return info.value


def unique_org() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"
