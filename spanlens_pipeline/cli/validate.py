"""``validate``: check a config file without starting anything."""
from __future__ import annotations

from .common import add_config_option, load_config


def register(sub) -> None:
    p = sub.add_parser("validate", help="check a config file and exit")
    add_config_option(p)
    p.set_defaults(func=_validate)


def _validate(args) -> int:
    cfg = load_config(args)
    print(f"{args.config}: OK ({len(cfg.components)} components, {len(cfg.pipelines)} pipeline(s))")
    return 0
