"""Plan quota (block, overage, hard cap), the platform ceiling, month roll-over, config errors."""
from __future__ import annotations

import pytest

from spanlens_pipeline.errors import ConfigError
from spanlens_pipeline.extensions.ratelimit.limiter import overage_total, rejected_total

from .helpers import JUNE_1, MAY_SECONDS, Clock, denied, limiter, tenant, unique_org

NO_CEILING = {name: {"ceiling_per_minute": None} for name in ("free", "starter", "team", "enterprise")}


def plans(**monthly):
    return {name: {**NO_CEILING[name], "monthly_requests": n} for name, n in monthly.items()}


def test_free_plan_blocks_at_the_quota_with_upgrade_context():
    clock = Clock()
    lim = limiter({"plans": plans(free=3), "upgrade_url": "https://billing.example/upgrade"}, clock)
    t = tenant(org=unique_org())
    remaining = [lim.check(t)["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    before = rejected_total.value(source="quota", scope="free_limit")
    err = denied(lim, t)
    assert err.status == 429 and err.code == "RATE_LIMIT"
    assert err.details == {"source": "quota", "reason": "free_limit", "plan": "free", "used": 3, "limit": 3,
                           "hard_cap": None, "upgrade_url": "https://billing.example/upgrade"}
    assert err.message == "Monthly request quota of the free plan reached: 3 of 3 requests used."
    assert err.headers == {"Retry-After": str(JUNE_1 - int(clock.wall_s)), "X-Spanlens-RateLimit-Scope": "quota",
                           "X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(JUNE_1),
                           "X-RateLimit-Window": str(MAY_SECONDS), "X-RateLimit-Scope": "quota"}
    assert rejected_total.value(source="quota", scope="free_limit") == before + 1
    # Another organization has its own count; the default plan applies to it too.
    assert lim.check(tenant(org=unique_org()))["X-RateLimit-Remaining"] == "2"


def test_free_plan_never_gets_overage_even_when_allowed():
    org = unique_org()
    lim = limiter({"plans": plans(free=1), "organizations": {org: {"allow_overage": True}}})
    lim.check(tenant(org=org))
    assert denied(lim, tenant(org=org)).details["reason"] == "free_limit"


def test_paid_plan_without_overage_blocks_overage_disabled():
    org = unique_org()
    lim = limiter({"plans": plans(team=2), "organizations": {org: {"plan": "team"}}})
    lim.check(tenant(org=org))
    lim.check(tenant(org=org))
    err = denied(lim, tenant(org=org))
    assert err.details == {"source": "quota", "reason": "overage_disabled", "plan": "team", "used": 2, "limit": 2,
                           "hard_cap": None, "upgrade_url": "https://spanlens.io/pricing"}
    assert err.message == "Monthly request quota of the team plan reached: 2 of 2 requests used and overage is disabled."


def test_overage_passes_with_header_until_the_hard_cap():
    org = unique_org()
    lim = limiter({"plans": plans(starter=2),
                   "organizations": {org: {"plan": "starter", "allow_overage": True, "overage_cap_multiplier": 2.5}}})
    t = tenant(org=org)
    first = [lim.check(t) for _ in range(2)]
    assert all("X-Overage-Active" not in h for h in first)
    assert [h["X-RateLimit-Remaining"] for h in first] == ["4", "3"]  # the cap is 2 x 2.5 = 5 calls
    before = overage_total.value(kind="quota")
    band = [lim.check(t) for _ in range(3)]
    assert all(h["X-Overage-Active"] == "true" and h["X-RateLimit-Limit"] == "5" for h in band)
    assert [h["X-RateLimit-Remaining"] for h in band] == ["2", "1", "0"]
    assert overage_total.value(kind="quota") == before + 3
    err = denied(lim, t)
    assert err.details == {"source": "quota", "reason": "hard_cap", "plan": "starter", "used": 5, "limit": 2,
                           "hard_cap": 5, "upgrade_url": "https://spanlens.io/pricing"}
    assert err.message == "Monthly overage hard cap reached: 5 requests used, cap 5 (2.5x the starter plan's 2)."


def test_quota_resets_with_the_utc_month_and_merges_store_counts():
    clock = Clock()
    org = unique_org()
    lim = limiter({"plans": plans(free=10)}, clock)
    lim.merge_counts({org: 9}, lim.month_start)  # seen in the store (another replica, an earlier run)
    lim.merge_counts({org: 4}, lim.month_start)  # never lowers a count
    lim.check(tenant(org=org))
    denied(lim, tenant(org=org))
    clock.advance(JUNE_1 - clock.wall_s)
    h = lim.check(tenant(org=org))
    assert h["X-RateLimit-Remaining"] == "9" and h["X-RateLimit-Reset"] == str(JUNE_1 + 30 * 86400)
    assert h["X-RateLimit-Window"] == str(30 * 86400)
    lim.merge_counts({org: 100}, JUNE_1 - MAY_SECONDS)  # last month's count is ignored
    assert lim.check(tenant(org=org))["X-RateLimit-Remaining"] == "8"


def test_platform_ceiling_never_rejects_and_flags_overage():
    clock = Clock()
    lim = limiter({"default_plan": "enterprise", "plans": {"enterprise": {"ceiling_per_minute": 3}}}, clock)
    t = tenant(org=unique_org())
    ok = [lim.check(t) for _ in range(3)]
    assert [h["X-RateLimit-Remaining"] for h in ok] == ["2", "1", "0"]
    assert ok[0] == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2",
                     "X-RateLimit-Reset": str(int(clock.wall_s) + 20), "X-RateLimit-Window": "60",
                     "X-RateLimit-Scope": "platform"}
    over = [lim.check(t) for _ in range(5)]
    assert all(h["X-Spanlens-RateLimit-Overage"] == "true" and h["X-RateLimit-Remaining"] == "0" for h in over)
    clock.advance(20)  # one call's worth of the ceiling is back
    h = lim.check(t)
    assert "X-Spanlens-RateLimit-Overage" not in h and h["X-RateLimit-Remaining"] == "0"


def test_ceiling_overage_shows_even_when_headers_describe_another_limit():
    lim = limiter({"plans": {"free": {"monthly_requests": 1000, "ceiling_per_minute": 1}}})
    t = tenant(org=unique_org())
    assert lim.check(t)["X-RateLimit-Scope"] == "quota"
    h = lim.check(t)
    assert h["X-Spanlens-RateLimit-Overage"] == "true" and h["X-RateLimit-Remaining"] == "998"


def test_no_limit_at_all_means_no_headers():
    lim = limiter({"default_plan": "enterprise", "plans": {"enterprise": {"ceiling_per_minute": None}}})
    assert lim.check(tenant()) == {}


@pytest.mark.parametrize("settings, path", [
    ({"limits": [{"scope": "api_key", "requests": 5, "window": "1500ms"}]}, "extensions::ratelimit::limits[0]::window"),
    ({"limits": [{"scope": "api_key", "requests": 0, "window": "1s"}]}, "extensions::ratelimit::limits[0]::requests"),
    ({"limits": [{"scope": "project", "requests": 1, "window": "1s", "key": "k"}]}, "extensions::ratelimit::limits[0]::key"),
    ({"limits": [{"scope": "api_key", "requests": 1, "window": "1s", "end_user": "u"}]},
     "extensions::ratelimit::limits[0]::end_user"),
    ({"limits": [{"scope": "user", "requests": 1, "window": "1s"}]}, "extensions::ratelimit::limits[0]::scope"),
    ({"default_plan": "gold"}, "extensions::ratelimit::default_plan"),
    ({"organizations": {"acme": {"plan": "gold"}}}, "extensions::ratelimit::organizations::acme::plan"),
    ({"organizations": {"acme": {"overage_cap_multiplier": 0.5}}},
     "extensions::ratelimit::organizations::acme::overage_cap_multiplier"),
    ({"plans": {"free": {"monthly_requests": 0}}}, "extensions::ratelimit::plans::free::monthly_requests"),
])
def test_config_errors_name_the_path(settings, path):
    with pytest.raises(ConfigError) as info:
        limiter(settings)
    assert info.value.path == path
