"""``migrate`` and ``sql``: the store's schema and ad-hoc queries, from the command line."""
from __future__ import annotations

import argparse
import datetime
import decimal
import sys
import uuid
from typing import Any

import orjson

from spanlens_pipeline.cli.common import add_config_option, component, load_config
from spanlens_pipeline.component import Kind


def register(sub: Any) -> None:
    m = sub.add_parser("migrate", help="create or upgrade the ClickHouse schema")
    m.add_argument("--dry-run", action="store_true",
                   help="print the DDL the config would run on a fresh store, connect to nothing")
    add_config_option(m)
    m.set_defaults(func=_migrate)
    q = sub.add_parser("sql", help="run a SQL query on the store (the embedded store only while the service is stopped)")
    q.add_argument("query")
    add_config_option(q)
    q.set_defaults(func=_sql)


def storage(args: argparse.Namespace) -> Any:
    """The storage extension named by ``--config``, built but not started."""
    return component(load_config(args), Kind.EXTENSION, "storage")


def _migrate(args: argparse.Namespace) -> int:
    from .schema import available, render

    if args.dry_run:
        ext = storage(args)
        for stmt in render(ext.config.database, ext.config.cluster):
            print(stmt + ";\n")
        return 0
    applied = storage(args).migrate()
    for m in applied:
        print(f"applied {m.version:04d}_{m.name}")
    print(f"schema is up to date ({len(available())} migrations)")
    return 0


def _default(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    raise TypeError


def _sql(args: argparse.Namespace) -> int:
    rows = storage(args).store.query(args.query)
    out = sys.stdout.buffer
    for row in rows:
        out.write(orjson.dumps(row, default=_default, option=orjson.OPT_NON_STR_KEYS) + b"\n")
    out.flush()
    return 0
