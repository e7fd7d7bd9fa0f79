"""``sql``: run a query on the configured store and print one JSON object per row."""
from __future__ import annotations

import datetime
import decimal
import sys
import uuid

import orjson

from spanlens_pipeline.store import StoreError

from .common import add_config_option, clickhouse_exporter, load_config


def register(sub) -> None:
    p = sub.add_parser("sql", help="run a SQL query on the store (the embedded store only while the service is stopped)")
    p.add_argument("query")
    add_config_option(p)
    p.set_defaults(func=_sql)


def _default(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, (uuid.UUID, bytes)):
        return str(v) if isinstance(v, uuid.UUID) else v.decode("utf-8", "replace")
    raise TypeError


def _sql(args) -> int:
    exporter = clickhouse_exporter(load_config(args))
    try:
        rows = exporter.open_store().query(args.query)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    for row in rows:
        out.write(orjson.dumps(row, default=_default, option=orjson.OPT_NON_STR_KEYS) + b"\n")
    out.flush()
    return 0
