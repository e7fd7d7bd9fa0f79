"""``keys``: create, list and revoke Spanlens API keys."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from spanlens_pipeline.cli.common import add_config_option, component, load_config, utc_text
from spanlens_pipeline.component import Kind, Settings
from spanlens_pipeline.config import Config

if TYPE_CHECKING:
    from .store import KeyBackend


def keystore_of(cfg: Config) -> KeyBackend:
    """The key store of a config's keystore extension, opened for this command: its own
    connection to the SQLite file, or to the ClickHouse server the config's storage names."""
    ext = component(cfg, Kind.EXTENSION, "keystore")
    storage = _extension(cfg, ext.config.storage) if ext.config.backend != "sqlite" else None
    return ext.open(storage)


def _extension(cfg: Config, component_id: str) -> Any:
    """The extension ``component_id`` of the config, built but not started (None if absent)."""
    for c in cfg.of_kind(Kind.EXTENSION):
        if c.id == component_id:
            return c.factory.create(Settings(c.id, logging.getLogger(f"spanlens_pipeline.cli.{c.id}")), c.config)
    return None


def keystore(args) -> KeyBackend:
    """The key store named by ``--config``."""
    return keystore_of(load_config(args))


def register(sub) -> None:
    p = sub.add_parser("keys", help="manage Spanlens API keys")
    ks = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    c = ks.add_parser("create", help="create a key (printed once, as the last line)")
    c.add_argument("--project", required=True, help="project name (created if new)")
    c.add_argument("--public", action="store_true", help="a read-only public key (sl_live_pub_…)")
    c.add_argument("--name", default="", help="a label for the key")
    add_config_option(c)
    c.set_defaults(func=_create)
    l = ks.add_parser("list", help="list keys (prefixes only)")
    add_config_option(l)
    l.set_defaults(func=_list)
    r = ks.add_parser("revoke", help="revoke a key by its display prefix or full value")
    r.add_argument("key", metavar="PREFIX")
    add_config_option(r)
    r.set_defaults(func=_revoke)


def _create(args) -> int:
    store = keystore(args)
    raw, info = store.create_key(args.project, public=args.public, name=args.name)
    print(f"created {info.scope} key {info.prefix} for project {info.project_name!r} ({info.project_id})")
    print("the key is shown once:")
    print(raw)
    return 0


def _list(args) -> int:
    store = keystore(args)
    print(f"{'PREFIX':<22} {'SCOPE':<7} {'PROJECT':<20} {'CREATED':<20} STATUS")
    for k in store.list_keys():
        print(f"{k.prefix:<22} {k.scope:<7} {k.project_name:<20} {utc_text(k.created_at):<20} "
              f"{'revoked' if k.revoked_at else 'active'}")
    return 0


def _revoke(args) -> int:
    store = keystore(args)
    info = store.revoke(args.key)
    print(f"revoked {info.prefix} (project {info.project_name!r})")
    return 0
