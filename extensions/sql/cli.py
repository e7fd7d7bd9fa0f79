"""``sql``: run a query on the store from the command line.

While the service runs, the embedded store belongs to it; if the config has a sql
extension whose endpoint answers ``/ping``, the query goes there (read-only, with the
extension's credentials). Otherwise the store is opened directly.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Iterable
from typing import Any

import httpx
import orjson

from spanlens_pipeline.cli.common import add_config_option, component, load_config
from spanlens_pipeline.component import Kind
from spanlens_pipeline.errors import CommandError

from . import guard, password

FORMATS = ("table", "json", "csv")
_JSON_SETTINGS = {"output_format_json_quote_64bit_integers": "0", "output_format_json_quote_decimals": "0"}


def register(sub: Any) -> None:
    q = sub.add_parser("sql", help="run a SQL query on the store (through the running service's sql "
                                   "endpoint when it answers, else on the store directly)")
    q.add_argument("query")
    q.add_argument("--format", choices=FORMATS, default="table",
                   help="table: aligned columns (default); json: one object per line; csv: with a header")
    add_config_option(q)
    q.set_defaults(func=_sql)


def _sql(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    sql_cfg = next((c.config for c in cfg.of_kind(Kind.EXTENSION)
                    if c.factory.type == "sql" and c.id in cfg.extensions), None)
    try:
        own_format = guard.check(args.query, {}).fmt is not None
    except Exception:
        own_format = False
    base = _base_url(sql_cfg.endpoint) if sql_cfg is not None else None
    raw: bytes | None
    if base and _answers(base):
        raw = _via_endpoint(base, sql_cfg, args.query, None if own_format else "JSONCompact")
    else:
        raw = _direct(component(cfg, Kind.EXTENSION, "storage"), args.query, own_format)
    try:
        if own_format or raw is None:
            sys.stdout.buffer.write(raw or b"")
        else:
            _render(orjson.loads(raw), args.format, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. ``| head``: the reader has gone; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def _base_url(endpoint: str) -> str:
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def _answers(base: str) -> bool:
    try:
        r = httpx.get(base + "/ping", timeout=2, trust_env=False)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and r.text.startswith("Ok.")


def _via_endpoint(base: str, cfg: Any, query: str, fmt: str | None) -> bytes:
    secret = cfg.password or password.read(cfg.password_file)
    if not secret:
        raise CommandError(f"the sql endpoint {base} answers, but there is no password in the config "
                           f"or in {cfg.password_file}")
    params = {"default_format": fmt, **_JSON_SETTINGS} if fmt else {}
    try:
        r = httpx.post(base + "/", params=params, content=query.encode(), auth=(cfg.username, secret),
                       timeout=cfg.max_execution_time + 30, trust_env=False)
    except httpx.HTTPError as exc:
        raise CommandError(f"the sql endpoint {base} failed: {exc}") from None
    if r.status_code != 200:
        raise CommandError(r.text.strip())
    return r.content


def _direct(storage: Any, query: str, own_format: bool) -> bytes | None:
    from clickhouse_connect.driver.exceptions import ClickHouseError

    client = storage.store.client
    try:
        if own_format:
            return client.raw_query(query)
        try:
            guard.check(query, {})
        except Exception:  # not a read statement: the store's owner may still run it here
            result = client.command(query)
            return None if result is None else (str(result) + "\n").encode()
        return client.raw_query(query, fmt="JSONCompact", settings=_JSON_SETTINGS)
    except ClickHouseError as exc:
        raise CommandError(str(exc).strip().splitlines()[0][:2000]) from None


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _render(doc: dict[str, Any], fmt: str, out: Any) -> None:
    names = [m["name"] for m in doc.get("meta", [])]
    rows: list[list[Any]] = doc.get("data", [])
    if fmt == "json":
        for row in rows:
            out.write(orjson.dumps(dict(zip(names, row, strict=True))).decode() + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_cell(v) if not isinstance(v, (int, float)) else v for v in row] for row in rows)
    else:
        _table(names, [[_cell(v) for v in row] for row in rows], out)


def _table(names: list[str], rows: Iterable[list[str]], out: Any) -> None:
    rows = [[c.replace("\n", "\\n").replace("\t", "\\t") for c in row] for row in rows]
    widths = [len(n) for n in names]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    out.write(line(names) + "\n")
    out.write(line(["-" * w for w in widths]) + "\n")
    for row in rows:
        out.write(line(row) + "\n")


def live_store(cfg: Any) -> Any | None:
    """A read-only ``Store`` through the running service's sql endpoint, if the config has a sql
    extension whose endpoint answers (the embedded store belongs to that service); else None."""
    from spanlens_pipeline.extensions.storage import Store

    sql_cfg = next((c.config for c in cfg.of_kind(Kind.EXTENSION)
                    if c.factory.type == "sql" and c.id in cfg.extensions), None)
    if sql_cfg is None:
        return None
    base = _base_url(sql_cfg.endpoint)
    if not _answers(base):
        return None
    secret = sql_cfg.password or password.read(sql_cfg.password_file)
    if not secret:
        raise CommandError(f"the sql endpoint {base} answers, but there is no password in the config "
                           f"or in {sql_cfg.password_file}")
    return Store(base, sql_cfg.username, secret, send_receive_timeout_s=sql_cfg.max_execution_time + 30)
