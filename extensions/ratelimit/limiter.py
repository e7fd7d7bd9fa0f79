"""The limiter: customer limits, the monthly plan quota and the platform ceiling, in one check.

``check(tenant, end_user)`` is synchronous and O(1). It first evaluates every layer without
changing anything, then either raises ``RateLimited`` (nothing is counted) or counts the
request in every layer at once, so concurrent callers can never be over-admitted.

Rate buckets use GCRA (the generic cell rate algorithm): ``N requests per W seconds`` admits a
burst of N, then one request every W/N seconds. A bucket is one integer, its theoretical
arrival time (TAT); a bucket whose TAT has passed is exactly a fresh one, so idle buckets are
dropped by ``sweep`` without losing anything.
"""
from __future__ import annotations

import calendar
import datetime
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spanlens_pipeline.errors import RateLimited
from spanlens_pipeline.metrics import counter
from spanlens_pipeline.model import Tenant

from .config import SCOPES, Config, Organization, Plan
from .rules import Limit, RuleIndex, runtime_rows
from .shared import SharedBuckets

NS = 1_000_000_000
CEILING_WINDOW = 60

rejected_total = counter("spanlens_ratelimit_rejected_total", "Proxy calls refused by a rate limit or quota")
overage_total = counter("spanlens_ratelimit_overage_total",
                        "Proxy calls served over the platform ceiling or in the quota overage band")


@dataclass(frozen=True, slots=True)
class Policy:
    """The quota policy of one organization, resolved from its plan and settings."""

    plan_name: str
    plan: Plan
    allow_overage: bool
    cap: int | None  # requests this month after which calls are refused; None: no quota
    multiplier: float

    @classmethod
    def of(cls, plan_name: str, plan: Plan, org: Organization) -> Policy:
        limit = plan.monthly_requests
        overage = org.allow_overage and plan_name != "free"
        cap = None if limit is None else int(limit * org.overage_cap_multiplier) if overage else limit
        return cls(plan_name, plan, overage, cap, org.overage_cap_multiplier)


def _gcra(tat: int, now: int, requests: int, window: int) -> tuple[int, int]:
    """(TAT after one more request, ns the request must wait; 0 if it passes now)."""
    new_tat = max(tat, now) + window * NS // requests
    return new_tat, max(0, new_tat - now - window * NS)


def _remaining(tat: int, now: int, requests: int, window: int) -> int:
    return max(0, (window * NS - max(0, tat - now)) // (window * NS // requests))


def _rescaled(tat: int, now: int, old: tuple[int, int], new: tuple[int, int]) -> int:
    """A TAT kept under limit ``old`` (requests, window), expressed for limit ``new``: the
    requests already counted stay counted when a limit changes."""
    if old == new or tat <= now:
        return tat
    old_interval, new_interval = old[1] * NS // old[0], new[1] * NS // new[0]
    return now + (tat - now) * new_interval // old_interval


class Limiter:
    def __init__(self, config: Config, db: sqlite3.Connection | None = None,
                 mono: Callable[[], int] = time.monotonic_ns, wall: Callable[[], float] = time.time) -> None:
        self.config = config
        self.db = db
        self.mono, self.wall = mono, wall
        self._lock = threading.Lock()
        self.shared: SharedBuckets | None = None  # rate buckets in Redis (``acheck``); None: in process
        self._version = -1
        # With a shared key store (the keystore's clickhouse backend), organization names and
        # runtime limits come from its snapshot instead of ``db``; ``org_generation`` changes with it.
        self.organizations: Callable[[], dict[str, str]] | None = None
        self.runtime: Callable[[], list[dict[str, Any]]] | None = None
        self.org_generation: Callable[[], int] = lambda: 0
        self._org_generation = 0
        self.rules = RuleIndex(config.limits, [])
        self._default = Policy.of(config.default_plan, config.plans[config.default_plan], Organization())
        self._policies: dict[str, Policy] = {}
        self.buckets: dict[tuple[str, ...], tuple[int, tuple[int, int]]] = {}  # (TAT, (requests, window))
        self.ceilings: dict[str, int] = {}  # platform-ceiling TATs per organization
        self.used: dict[str, int] = {}  # requests this UTC month per organization
        self.month_start = self.month_end = 0
        self._roll_month(self.wall())
        self.reload()

    # -- configuration ------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read runtime limits and organization names from the key store (if any)."""
        rows: list[Any] = []
        orgs: list[Any] = []
        if self.db is not None:
            self._version = self.db.execute("PRAGMA data_version").fetchone()[0]
            rows = runtime_rows(self.db)
            orgs = self.db.execute("SELECT id, name FROM organizations").fetchall()
        names = {name: oid for oid, name in orgs}
        self._org_generation = self.org_generation()
        if self.organizations is not None:
            names = {name: oid for oid, name in self.organizations().items()}
        if self.runtime is not None:
            rows = self.runtime()
        policies = {}
        for ref, org in self.config.organizations.items():
            plan_name = org.plan or self.config.default_plan
            policies[names.get(ref, ref)] = Policy.of(plan_name, self.config.plans[plan_name], org)
        self.rules, self._policies = RuleIndex(self.config.limits, rows), policies

    def policy(self, organization_id: str) -> Policy:
        return self._policies.get(organization_id, self._default)

    def _roll_month(self, wall: float) -> None:
        d = datetime.datetime.fromtimestamp(wall, datetime.UTC)
        start = calendar.timegm((d.year, d.month, 1, 0, 0, 0))
        end = calendar.timegm((d.year + d.month // 12, d.month % 12 + 1, 1, 0, 0, 0))
        if start != self.month_start:
            self.used.clear()
        self.month_start, self.month_end = start, end

    # -- the check ----------------------------------------------------------------------
    def check(self, tenant: Tenant, end_user: str | None = None) -> dict[str, str]:
        """Admit one proxied call: its response headers, or ``RateLimited``."""
        with self._lock:
            now, wall, policy, used = self._begin(tenant)
            hits = self._customer_limits(tenant, end_user, now, wall)
            org, ceiling, over = tenant.organization_id, policy.plan.ceiling_per_minute, 0
            if ceiling:
                tat, over = _gcra(self.ceilings.get(org, 0), now, ceiling, CEILING_WINDOW)
                if not over:
                    self.ceilings[org] = tat
            for key, tat, limit in hits:
                self.buckets[key] = (tat, (limit.requests, limit.window))
            return self._admit(tenant, policy, used, hits, now, wall, bool(over), self.ceilings.get(org, 0))

    async def acheck(self, tenant: Tenant, end_user: str | None = None) -> dict[str, str]:
        """``check`` with the rate buckets in Redis (``shared``), so every replica counts against
        the same buckets. The monthly quota stays per process (synced from the store)."""
        assert self.shared is not None
        with self._lock:
            _, _, policy, _ = self._begin(tenant)
            applicable = self._applicable(tenant, end_user)
        org, ceiling = tenant.organization_id, policy.plan.ceiling_per_minute
        out = await self.shared.run([(key, lim.requests, lim.window) for key, lim in applicable],
                                    (org, ceiling, CEILING_WINDOW) if ceiling else None)
        if out.denied:
            key, lim = applicable[out.denied - 1]
            self._deny_customer(lim, end_user, out.tats[out.denied - 1] - lim.window * NS // lim.requests,
                                out.now, out.wall, out.wait)
        with self._lock:
            used = self.used.get(org, 0)  # other calls of this process may have counted meanwhile
            if policy.cap is not None and used >= policy.cap:
                self._deny_quota(policy, used, out.wall)
            hits = [(key, tat, lim) for (key, lim), tat in zip(applicable, out.tats, strict=True)]
            return self._admit(tenant, policy, used, hits, out.now, out.wall, out.ceiling_over, out.ceiling_tat)

    def _begin(self, tenant: Tenant) -> tuple[int, float, Policy, int]:
        """Clocks, policy and this month's count; refuses a call over the quota. Under the lock."""
        if ((self.db is not None and self.db.execute("PRAGMA data_version").fetchone()[0] != self._version)
                or self.org_generation() != self._org_generation):
            self.reload()
        now, wall = self.mono(), self.wall()
        if wall >= self.month_end:
            self._roll_month(wall)
        policy = self.policy(tenant.organization_id)
        used = self.used.get(tenant.organization_id, 0)
        if policy.cap is not None and used >= policy.cap:
            self._deny_quota(policy, used, wall)
        return now, wall, policy, used

    def _admit(self, tenant: Tenant, policy: Policy, used: int, hits: list[tuple[tuple[str, ...], int, Limit]],
               now: int, wall: float, over: bool, ceiling_tat: int) -> dict[str, str]:
        """Count an admitted call in the quota; the headers of the limit with the fewest calls left."""
        self.used[tenant.organization_id] = used + 1
        ceiling = policy.plan.ceiling_per_minute
        best: tuple | None = None
        for _key, tat, limit in hits:
            remaining = _remaining(tat, now, limit.requests, limit.window)
            if best is None or remaining < best[1]:
                best = (limit.scope, remaining, limit.requests, _reset(tat, now, wall), limit.window)
        if policy.cap is not None and (best is None or policy.cap - used - 1 < best[1]):
            best = ("quota", policy.cap - used - 1, policy.cap, self.month_end, self.month_end - self.month_start)
        if best is None and ceiling:
            best = ("platform", _remaining(ceiling_tat, now, ceiling, CEILING_WINDOW), ceiling,
                    _reset(ceiling_tat, now, wall), CEILING_WINDOW)
        headers = _described(*best) if best else {}
        if over:
            headers["X-Spanlens-RateLimit-Overage"] = "true"
            overage_total.inc(kind="platform")
        if policy.plan.monthly_requests is not None and used >= policy.plan.monthly_requests:
            headers["X-Overage-Active"] = "true"
            overage_total.inc(kind="quota")
        return headers

    def _applicable(self, tenant: Tenant, end_user: str | None) -> list[tuple[tuple[str, ...], Limit]]:
        """(bucket, limit) of each limit that applies to this call, in check order."""
        out = []
        for scope in SCOPES:
            if scope == "end_user" and not end_user:
                continue
            limit = self.rules.find(scope, tenant, end_user or "")
            if limit is not None:
                out.append((_bucket_key(scope, tenant, end_user), limit))
        return out

    def _customer_limits(self, tenant: Tenant, end_user: str | None, now: int,
                         wall: float) -> list[tuple[tuple[str, ...], int, Limit]]:
        """(bucket, TAT after this call, limit) of each applicable limit; raises on the first denial."""
        hits = []
        for key, limit in self._applicable(tenant, end_user):
            rate = (limit.requests, limit.window)
            tat, kept = self.buckets.get(key, (0, rate))
            new_tat, wait = _gcra(_rescaled(tat, now, kept, rate), now, *rate)
            if wait:
                self._deny_customer(limit, end_user, new_tat - limit.window * NS // limit.requests, now, wall, wait)
            hits.append((key, new_tat, limit))
        return hits

    def _deny_customer(self, limit: Limit, end_user: str | None, tat: int, now: int, wall: float,
                       wait: int) -> None:
        rejected_total.inc(source="customer_limit", scope=limit.scope)
        details = {"source": "customer_limit", "scope": limit.scope, "limit": limit.requests,
                   "window_seconds": limit.window}
        if limit.scope == "end_user":
            details["end_user_id"] = end_user
        headers = _described(limit.scope, 0, limit.requests, _reset(tat, now, wall), limit.window)
        headers["Retry-After"] = str(min(limit.window, max(1, math.ceil(wait / NS))))
        headers["X-Spanlens-RateLimit-Scope"] = limit.scope
        raise RateLimited(f"Customer-configured rate limit exceeded ({limit.scope}): "
                          f"{limit.requests} requests per {limit.window}s.", details=details, headers=headers)

    def _deny_quota(self, policy: Policy, used: int, wall: float) -> None:
        limit = policy.plan.monthly_requests
        if policy.allow_overage:
            reason = "hard_cap"
            message = (f"Monthly overage hard cap reached: {used} requests used, cap {policy.cap} "
                       f"({policy.multiplier:g}x the {policy.plan_name} plan's {limit}).")
        else:
            reason = "free_limit" if policy.plan_name == "free" else "overage_disabled"
            message = (f"Monthly request quota of the {policy.plan_name} plan reached: {used} of {limit} "
                       f"requests used" + (" and overage is disabled." if reason == "overage_disabled" else "."))
        rejected_total.inc(source="quota", scope=reason)
        details = {"source": "quota", "reason": reason, "plan": policy.plan_name, "used": used, "limit": limit,
                   "hard_cap": policy.cap if policy.allow_overage else None, "upgrade_url": self.config.upgrade_url}
        headers = _described("quota", 0, policy.cap or 0, self.month_end, self.month_end - self.month_start)
        headers["Retry-After"] = str(max(1, math.ceil(self.month_end - wall)))
        headers["X-Spanlens-RateLimit-Scope"] = "quota"
        raise RateLimited(message, details=details, headers=headers)

    # -- housekeeping -------------------------------------------------------------------
    def sweep(self) -> int:
        """Drop idle buckets (TAT passed: identical to a fresh bucket); returns how many."""
        with self._lock:
            now = self.mono()
            idle = [k for k, (tat, _) in self.buckets.items() if tat <= now]
            idle_orgs = [org for org, tat in self.ceilings.items() if tat <= now]
            for k in idle:
                del self.buckets[k]
            for org in idle_orgs:
                del self.ceilings[org]
            return len(idle) + len(idle_orgs)

    def merge_counts(self, counts: dict[str, int], month_start: int) -> None:
        """Raise this month's counts to those seen in the store (other replicas' calls)."""
        with self._lock:
            if month_start != self.month_start:
                return
            for org, n in counts.items():
                if n > self.used.get(org, 0):
                    self.used[org] = n


def _bucket_key(scope: str, tenant: Tenant, end_user: str | None) -> tuple[str, ...]:
    if scope == "end_user":
        return ("u", tenant.api_key_id, end_user or "")
    if scope == "api_key":
        return ("k", tenant.api_key_id)
    return ("p", tenant.project_id)


def _reset(tat: int, now: int, wall: float) -> int:
    """Unix second at which a bucket is full again."""
    return math.ceil(wall + max(0, tat - now) / NS)


def _described(scope: str, remaining: int, limit: int, reset: int, window: int) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": str(reset), "X-RateLimit-Window": str(window), "X-RateLimit-Scope": scope}
