"""``migrate``: the store's schema, from the command line (``sql`` is the sql extension's)."""
from __future__ import annotations

import argparse
from typing import Any

from spanlens_pipeline.cli.common import add_config_option, component, load_config
from spanlens_pipeline.component import Kind


def register(sub: Any) -> None:
    m = sub.add_parser("migrate", help="create or upgrade the ClickHouse schema")
    m.add_argument("--dry-run", action="store_true",
                   help="print the DDL the config would run on a fresh store, connect to nothing")
    add_config_option(m)
    m.set_defaults(func=_migrate)


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
