"""The read API's questions: filters, cursors and rows for traces, requests, sessions and stats.

Each list is one named query of the storage extension with ``{where}`` filled in by this
module from small fixed fragments; every value a client sends is a bound parameter.
Lists are keyset-paginated: the cursor is the last row's sort key, so a page never
repeats or skips a row that was already there when the first page was read, however much
is ingested in between. Shared by the HTTP routes and the CLI.
"""
from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from spanlens_pipeline.errors import ValidationFailed
from spanlens_pipeline.model import MAX_COST_USD, Tenant
from spanlens_pipeline.times import iso_or_none

# Runs a named query with a WHERE text and parameters: ``(name, where, **params) -> rows``.
Runner = Callable[..., list[dict[str, Any]]]

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
GROUP_BY = ("model", "provider", "project", "user", "session", "day", "hour")
TRACE_STATUS = {"ok": "completed", "completed": "completed", "error": "error", "running": "running"}
REQUEST_STATUS = ("ok", "error")
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def bad(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field_name}: {message}", details={"field": field_name})


# -- parameters -----------------------------------------------------------------------------
def parse_time(value: str, field_name: str, now: datetime.datetime | None = None) -> int:
    """ISO 8601 (a date, or a time; UTC unless it has an offset) or a relative age such as
    ``7d``, ``24h``, ``30m`` (that long before now) → nanoseconds since the epoch."""
    v = value.strip()
    m = _RELATIVE.match(v.lower())
    if m:
        now = now or datetime.datetime.now(datetime.UTC)
        return int((now.timestamp() - int(m.group(1)) * _UNIT_S[m.group(2)]) * 1e9)
    try:
        t = datetime.datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise bad(field_name,
                  "must be ISO 8601 (2026-01-31, 2026-01-31T12:00:00Z) or relative (7d, 24h, 30m)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.UTC)
    delta = t - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise bad("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return int(value)


def parse_cost(value: str) -> Decimal:
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise bad("min_cost", "must be a decimal number of USD") from None
    if not d.is_finite() or d < 0 or d >= MAX_COST_USD:
        raise bad("min_cost", f"must be from 0 to below {MAX_COST_USD}")
    return d


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def decode_cursor(value: str, kinds: tuple[type, ...]) -> list[Any]:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise bad("cursor", "is not a cursor returned by this endpoint") from None
    if (not isinstance(key, list) or len(key) != len(kinds)
            or not all(isinstance(k, t) and not isinstance(k, bool) for k, t in zip(key, kinds, strict=False))):
        raise bad("cursor", "is not a cursor returned by this endpoint")
    return key


@dataclass
class Filters:
    """What a list or stats call asks for, validated; ``args`` are the raw query parameters."""

    args: Mapping[str, str]
    since: int | None = None
    until: int | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> Filters:
        f = cls(args)
        if args.get("since"):
            f.since = parse_time(args["since"], "since")
        if args.get("until"):
            f.until = parse_time(args["until"], "until")
        if f.since is not None and f.until is not None and f.since > f.until:
            raise bad("since", "must not be after until")
        f.limit = parse_limit(args.get("limit"))
        f.cursor = args.get("cursor") or None
        for name in ("name", "model", "provider", "user_id", "session_id"):
            if args.get(name):
                f.extra[name] = args[name]
        if args.get("min_cost"):
            f.extra["min_cost"] = parse_cost(args["min_cost"])
        return f


class Where:
    """AND-ed fragments with their bound parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}

    def add(self, fragment: str, **params: Any) -> None:
        self.parts.append(fragment)
        self.params.update(params)

    @property
    def text(self) -> str:
        return " AND ".join(self.parts) or "1"


def scope(where: Where, tenant: Tenant | None, org_projects: list[str]) -> None:
    """Rows of the key's project (full key) or of its organization's projects (public key);
    with no tenant (the CLI), rows of ``org_projects``, or of every project if that is empty."""
    if tenant is None:
        if org_projects:
            where.add("project_id IN %(scope_projects)s", scope_projects=tuple(org_projects))
    elif tenant.is_public:
        where.add("project_id IN %(scope_projects)s", scope_projects=tuple(org_projects or [tenant.project_id]))
    else:
        where.add("project_id = %(scope_project)s", scope_project=tenant.project_id)


def _money(value: Any) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


# -- traces -----------------------------------------------------------------------------------
def list_traces(run: Runner, tenant: Tenant | None, org_projects: list[str], f: Filters) -> dict[str, Any]:
    w = Where()
    scope(w, tenant, org_projects)
    if not f.extra and not f.args.get("status"):
        # Only time and cursor: find the page's ids from start times alone, then read just those.
        h = Where()
        if f.since is not None:
            h.add("sort_ns >= toInt64(%(since)s)", since=f.since)
        if f.until is not None:  # a trace with no start is never "before" a time (as in the view's filter)
            h.add("sort_ns > 0 AND sort_ns < toInt64(%(until)s)", until=f.until)
        if f.cursor:
            ns, tid = decode_cursor(f.cursor, (int, str))
            h.add("(sort_ns, trace_id) < (toInt64(%(c_ns)s), %(c_id)s)", c_ns=ns, c_id=tid)
        ids = [r["trace_id"] for r in run("traces_page_ids", w.text, having=h.text, limit=f.limit + 1,
                                          **w.params, **h.params)]
        if not ids:
            return {"data": [], "next_cursor": None}
        w.add("trace_id IN %(page_ids)s", page_ids=tuple(ids))
        return _trace_page(run, w, f.limit)
    if f.since is not None:
        w.add("start_time >= fromUnixTimestamp64Nano(toInt64(%(since)s), 'UTC')", since=f.since)
    if f.until is not None:
        w.add("start_time < fromUnixTimestamp64Nano(toInt64(%(until)s), 'UTC')", until=f.until)
    status = f.args.get("status")
    if status:
        if status not in TRACE_STATUS:
            raise bad("status", "must be ok, error or running")
        w.add("status = %(status)s", status=TRACE_STATUS[status])
    e = f.extra
    if "name" in e:
        w.add("positionCaseInsensitiveUTF8(ifNull(name, ''), %(name)s) > 0", name=e["name"])
    if "model" in e:
        w.add("has(models, %(model)s)", model=e["model"])
    if "provider" in e:
        w.add("has(providers, %(provider)s)", provider=e["provider"])
    if "user_id" in e:
        w.add("user_id = %(user_id)s", user_id=e["user_id"])
    if "session_id" in e:
        w.add("session_id = %(session_id)s", session_id=e["session_id"])
    if "min_cost" in e:
        w.add("total_cost_usd >= toDecimal128(%(min_cost)s, 12)", min_cost=str(e["min_cost"]))
    if f.cursor:
        ns, tid = decode_cursor(f.cursor, (int, str))
        w.add("(sort_ns, trace_id) < (toInt64(%(c_ns)s), %(c_id)s)", c_ns=ns, c_id=tid)
    return _trace_page(run, w, f.limit)


def _trace_page(run: Runner, w: Where, limit: int) -> dict[str, Any]:
    rows = run("traces_list", w.text, limit=limit + 1, **w.params)
    page = rows[:limit]
    nxt = encode_cursor(page[-1]["sort_ns"], page[-1]["trace_id"]) if len(rows) > limit else None
    return {"data": [trace_row(r) for r in page], "next_cursor": nxt}


def trace_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["trace_id"], "project_id": r["project_id"], "name": r["name"],
        "started_at": iso_or_none(r["start_ns"]), "ended_at": iso_or_none(r["end_ns"]),
        "duration_ms": _ms(r["duration_ns"]), "span_count": r["span_count"], "error_count": r["error_count"],
        "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"], "total_tokens": r["total_tokens"],
        "total_cost_usd": _money(r["total_cost_usd"]), "status": r["status"], "user_id": r["user_id"],
        "session_id": r["session_id"], "models": list(r["models"]),
    }


# -- requests ---------------------------------------------------------------------------------
def _request_filters(w: Where, f: Filters) -> None:
    if f.since is not None:
        w.add("created_at >= fromUnixTimestamp64Nano(toInt64(%(since)s), 'UTC')", since=f.since)
    if f.until is not None:
        w.add("created_at < fromUnixTimestamp64Nano(toInt64(%(until)s), 'UTC')", until=f.until)
    status = f.args.get("status")
    if status:
        if status not in REQUEST_STATUS:
            raise bad("status", "must be ok or error")
        w.add("status_code < 400" if status == "ok" else "status_code >= 400")
    e = f.extra
    for name in ("model", "provider"):
        if name in e:
            w.add(f"{name} = %({name})s", **{name: e[name]})
    for name in ("user_id", "session_id"):
        if name in e:
            w.add(f"{name} = %({name})s", **{name: e[name]})
    if "min_cost" in e:
        w.add("cost_usd >= toDecimal128(%(min_cost)s, 12)", min_cost=str(e["min_cost"]))


def list_requests(run: Runner, tenant: Tenant | None, org_projects: list[str], f: Filters) -> dict[str, Any]:
    w = Where()
    scope(w, tenant, org_projects)
    _request_filters(w, f)
    if f.cursor:
        ns, rid = decode_cursor(f.cursor, (int, str))
        w.add("(created_at, id) < (fromUnixTimestamp64Nano(toInt64(%(c_ns)s), 'UTC'), %(c_id)s)", c_ns=ns, c_id=rid)
    rows = run("requests_list", w.text, limit=f.limit + 1, **w.params)
    page = rows[:f.limit]
    nxt = encode_cursor(page[-1]["created_ns"], page[-1]["id"]) if len(rows) > f.limit else None
    return {"data": [request_row(r) for r in page], "next_cursor": nxt}


def get_request(run: Runner, tenant: Tenant | None, org_projects: list[str], request_id: str) -> dict[str, Any] | None:
    w = Where()
    scope(w, tenant, org_projects)
    rows = run("request_get", w.text, id=request_id, **w.params)
    if not rows:
        return None
    r = rows[0]
    out = request_row(r)
    out.update({"api_key_id": r["api_key_id"], "provider_key_id": r["provider_key_id"],
                "service_tier": r["service_tier"], "request_body": r["request_body"],
                "response_body": r["response_body"]})
    return out


def request_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"], "project_id": r["project_id"], "created_at": iso_or_none(r["created_ns"]),
        "provider": r["provider"], "model": r["model"], "method": r["method"], "path": r["path"],
        "status_code": r["status_code"], "streamed": bool(r["streamed"]),
        "prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"],
        "total_tokens": r["total_tokens"], "cache_read_tokens": r["cache_read_tokens"],
        "cache_write_tokens": r["cache_write_tokens"], "reasoning_tokens": r["reasoning_tokens"],
        "cost_usd": _money(r["cost_usd"] if r["cost_usd"] is not None else r["reported_cost_usd"]),
        "latency_ms": r["latency_ms"], "proxy_overhead_ms": r["proxy_overhead_ms"], "duration_ms": r["duration_ms"],
        "truncated": bool(r["truncated"]), "error_message": r["error_message"],
        "trace_id": r["trace_id"] or None, "span_id": r["span_id"] or None, "parent_span_id": r["parent_span_id"],
        "user_id": r["user_id"], "session_id": r["session_id"], "flags": sorted(r["flags"]),
    }


# -- sessions ---------------------------------------------------------------------------------
def list_sessions(run: Runner, tenant: Tenant | None, org_projects: list[str], f: Filters) -> dict[str, Any]:
    w, h = Where(), Where()
    scope(w, tenant, org_projects)
    if "user_id" in f.extra:
        w.add("user_id = %(user_id)s", user_id=f.extra["user_id"])
    if f.since is not None:
        h.add("sort_ns >= toInt64(%(since)s)", since=f.since)
    if f.until is not None:
        h.add("sort_ns < toInt64(%(until)s)", until=f.until)
    if f.cursor:
        ns, sid = decode_cursor(f.cursor, (int, str))
        h.add("(sort_ns, session_id) < (toInt64(%(c_ns)s), %(c_id)s)", c_ns=ns, c_id=sid)
    rows = run("sessions_list", w.text, having=h.text, limit=f.limit + 1, **w.params, **h.params)
    page = rows[:f.limit]
    nxt = encode_cursor(page[-1]["sort_ns"], page[-1]["session_id"]) if len(rows) > f.limit else None
    return {"data": [{
        "session_id": r["session_id"], "user_id": r["user_id"], "first_seen": iso_or_none(r["first_ns"]),
        "last_seen": iso_or_none(r["last_ns"]), "trace_count": r["trace_count"],
        "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"], "total_tokens": r["total_tokens"],
        "total_cost_usd": _money(r["total_cost_usd"]),
    } for r in page], "next_cursor": nxt}


# -- stats ------------------------------------------------------------------------------------
def parse_group_by(value: str) -> list[str]:
    """One key, or two separated by a comma (``day,model``)."""
    keys = [k.strip() for k in value.split(",")]
    if not 1 <= len(keys) <= 2 or any(k not in GROUP_BY for k in keys) or len(set(keys)) != len(keys):
        raise bad("group_by", "must be one of " + ", ".join(GROUP_BY) + ", or two of them separated by a comma")
    return keys


def stats(run: Runner, tenant: Tenant | None, org_projects: list[str], f: Filters, group_by: str) -> dict[str, Any]:
    """Usage per key. Each row has ``key`` (the first key's value), ``keys`` (every key's) and
    each key's value under the key's own name (``"day": …, "model": …``)."""
    by = parse_group_by(group_by)
    w = Where()
    scope(w, tenant, org_projects)
    if f.since is not None:
        w.add("hour >= toStartOfHour(fromUnixTimestamp64Nano(toInt64(%(since)s), 'UTC'))", since=f.since)
        w.add("start_time >= fromUnixTimestamp64Nano(toInt64(%(since)s), 'UTC')")
    if f.until is not None:
        w.add("hour <= toStartOfHour(fromUnixTimestamp64Nano(toInt64(%(until)s), 'UTC'))", until=f.until)
        w.add("start_time < fromUnixTimestamp64Nano(toInt64(%(until)s), 'UTC')")
    for name in ("model", "provider", "user_id", "session_id"):
        if name in f.extra:
            w.add(f"{name} = %({name})s", **{name: f.extra[name]})
    rows = run("stats", w.text, by=by[0], by2=by[1] if len(by) > 1 else "", **w.params)
    return {"data": [{
        "key": r["key"], "keys": dict(zip(by, (r["key"], r["key2"]), strict=False)),
        **dict(zip(by, (r["key"], r["key2"]), strict=False)),
        "calls": r["calls"], "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"],
        "cache_read_tokens": r["cache_read_tokens"], "cache_write_tokens": r["cache_write_tokens"],
        "reasoning_tokens": r["reasoning_tokens"], "total_tokens": r["total_tokens"],
        "cost_usd": _money(r["cost_usd"]), "errors": r["errors"],
        "p50_latency_ms": round(r["latency"][0], 3), "p95_latency_ms": round(r["latency"][1], 3),
    } for r in rows]}
