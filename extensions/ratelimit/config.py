"""Settings of the ratelimit extension: customer limits, plans and per-organization quota policy."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spanlens_pipeline.confschema import Millis
from spanlens_pipeline.errors import ConfigError

SCOPES = ("end_user", "api_key", "project")  # also the order in which they are checked


@dataclass
class Rule:
    """``requests`` per ``window`` for one scope; selectors narrow it (none = every key/project/user)."""

    scope: Literal["api_key", "project", "end_user"]
    requests: int
    window: Millis
    key: str | None = None  # key id or display prefix
    project: str | None = None  # project id or name
    end_user: str | None = None  # one X-Spanlens-User value (scope end_user only)

    def validate(self, path: str) -> None:
        if self.requests < 1:
            raise ConfigError(f"{path}::requests", "must be at least 1")
        if self.window < 1000 or self.window % 1000:
            raise ConfigError(f"{path}::window", "must be a whole number of seconds, at least 1s")
        if self.key and self.project:
            raise ConfigError(path, "give key or project, not both (a key belongs to one project)")
        if self.key and self.scope == "project":
            raise ConfigError(f"{path}::key", "a project limit is selected by project, not key")
        if self.end_user and self.scope != "end_user":
            raise ConfigError(f"{path}::end_user", "only an end_user limit can name an end user")


@dataclass
class Plan:
    monthly_requests: int | None = None  # None: no monthly quota
    ceiling_per_minute: int | None = None  # None: no platform ceiling


DEFAULT_PLANS = {
    "free": Plan(50_000, 600),
    "starter": Plan(100_000, 3_000),
    "team": Plan(1_000_000, 15_000),
    "enterprise": Plan(None, 60_000),
}


@dataclass
class Organization:
    """Quota policy of one organization (by id or name)."""

    plan: str | None = None  # None: default_plan
    allow_overage: bool = False  # paid plans: keep serving past the quota, up to the hard cap
    overage_cap_multiplier: float = 5.0

    def validate(self, path: str) -> None:
        if self.overage_cap_multiplier < 1:
            raise ConfigError(f"{path}::overage_cap_multiplier", "must be at least 1")


@dataclass
class Config:
    keystore: str = "keystore"  # id of the keystore extension (runtime limits live in its file)
    storage: str = "storage"  # id of the storage extension whose requests table seeds the quota; "" = none
    sync_interval: Millis = Millis(60_000)  # re-read quota counts from a server store (replicas)
    limits: list[Rule] = field(default_factory=list)
    default_plan: str = "free"
    plans: dict[str, Plan] = field(default_factory=dict)
    organizations: dict[str, Organization] = field(default_factory=dict)
    upgrade_url: str = "https://spanlens.io/pricing"
    # redis://host:6379/0: rate buckets shared by every replica (one atomic GCRA script); "" = per process.
    redis: str = ""

    def validate(self, path: str) -> None:
        if self.redis and not self.redis.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"{path}::redis", "must be a redis://, rediss:// or unix:// URL (or empty)")
        self.plans = {**DEFAULT_PLANS, **self.plans}
        for name, plan in self.plans.items():
            for attr in ("monthly_requests", "ceiling_per_minute"):
                value = getattr(plan, attr)
                if value is not None and value < 1:
                    raise ConfigError(f"{path}::plans::{name}::{attr}", "must be at least 1 (or null for none)")
        known = ", ".join(sorted(self.plans))
        if self.default_plan not in self.plans:
            raise ConfigError(f"{path}::default_plan", f"unknown plan {self.default_plan!r} (plans: {known})")
        for org, settings in self.organizations.items():
            if settings.plan is not None and settings.plan not in self.plans:
                raise ConfigError(f"{path}::organizations::{org}::plan",
                                  f"unknown plan {settings.plan!r} (plans: {known})")
