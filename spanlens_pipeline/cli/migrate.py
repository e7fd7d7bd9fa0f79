"""``migrate``: apply the store's schema migrations (also done at start when create_schema is on)."""
from __future__ import annotations

from spanlens_pipeline.exporters.clickhouse import schema

from .common import add_config_option, clickhouse_exporter, load_config


def register(sub) -> None:
    p = sub.add_parser("migrate", help="create or upgrade the ClickHouse schema")
    add_config_option(p)
    p.set_defaults(func=_migrate)


def _migrate(args) -> int:
    exporter = clickhouse_exporter(load_config(args))
    applied = schema.migrate(exporter.open_store(), exporter.config.database)
    for m in applied:
        print(f"applied {m.version:04d}_{m.name}")
    print(f"schema is up to date ({len(schema.available())} migrations)")
    return 0
