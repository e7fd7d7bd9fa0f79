"""Expand Grafana ClickHouse data source macros the way the plugin (grafana-clickhouse-datasource)
does, plus the template variables the Spanlens dashboard uses, so its SQL can run on a store."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_s: int = 60


def _dt(t: datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _dt64(t: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"


def _date(t: datetime) -> str:
    return f"toDate('{t.astimezone(UTC):%Y-%m-%d}')"


def _macro(name: str, args: list[str], r: TimeRange) -> str:
    if name == "fromTime":
        return _dt(r.start)
    if name == "toTime":
        return _dt(r.end)
    if name == "fromTime_ms":
        return _dt64(r.start)
    if name == "toTime_ms":
        return _dt64(r.end)
    if name == "interval_s":
        return str(max(r.interval_s, 1))
    if name in ("timeFilter", "timeFilter_ms", "dateFilter"):
        (col,) = args
        f = {"timeFilter": _dt, "timeFilter_ms": _dt64, "dateFilter": _date}[name]
        return f"{col} >= {f(r.start)} AND {col} <= {f(r.end)}"
    if name == "timeInterval":
        (col,) = args
        return f"toStartOfInterval(toDateTime({col}), INTERVAL {max(r.interval_s, 1)} second)"
    raise ValueError(f"macro $__{name} is not expanded here")


_MACRO_RE = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")


def expand(sql: str, r: TimeRange, variables: dict[str, list[str]] | None = None) -> str:
    """``sql`` with ``$__macro(...)`` and ``${var:singlequote}`` / ``${var}`` / ``$var`` replaced."""
    def var(m: re.Match) -> str:
        name, fmt = m.group(1) or m.group(3), m.group(2)
        values = (variables or {})[name]
        if fmt == "singlequote":
            return ",".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
        if fmt not in (None, "raw"):
            raise ValueError(f"variable format {fmt} is not expanded here")
        return ",".join(values)

    sql = re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)", var, sql)

    def macro(m: re.Match) -> str:
        args = [a.strip() for a in m.group(2).split(",")] if m.group(2) else []
        return _macro(m.group(1), args, r)

    out = _MACRO_RE.sub(macro, sql)
    if "$" in out:
        raise ValueError(f"unexpanded Grafana syntax left in: {out}")
    return out


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
