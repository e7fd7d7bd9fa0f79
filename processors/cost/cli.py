"""``prices``: import LiteLLM's price file for the cost processor, and look a price up."""
from __future__ import annotations

import json
import os
import sys
from decimal import Decimal

from spanlens_pipeline.cli.common import add_config_option, load_config
from spanlens_pipeline.component import Kind
from spanlens_pipeline.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("prices", help="model prices of the cost processor")
    ps = p.add_subparsers(dest="prices_command", required=True, metavar="ACTION")
    i = ps.add_parser("import", help="import LiteLLM's model_prices_and_context_window.json "
                                     "into the cost processor's prices_file (replacing it)")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--out", metavar="PATH", help="write here instead of the configured prices_file")
    i.add_argument("--effective-from", metavar="YYYY-MM-DD", help="date from which the imported prices apply")
    add_config_option(i)
    i.set_defaults(func=_import)
    l = ps.add_parser("lookup", help="show the price row a provider and model resolve to")
    l.add_argument("provider")
    l.add_argument("model")
    add_config_option(l)
    l.set_defaults(func=_lookup)


def _cost_config(args):
    """The config of the first cost processor, or None when the config has none."""
    if not os.path.exists(args.config):
        return None
    for c in load_config(args).of_kind(Kind.PROCESSOR):
        if c.factory.type == "cost":
            return c.config
    return None


def _import(args) -> int:
    from .litellm import convert

    out = args.out
    if not out:
        cfg = _cost_config(args)
        out = cfg.prices_file if cfg else None
    if not out:
        raise ConfigError("processors::cost::prices_file", "is not set; give --out PATH")
    try:
        with open(args.file, "rb") as f:
            doc = json.load(f, parse_float=Decimal)
        rows, skipped = convert(doc, args.effective_from)
    except (OSError, ValueError) as exc:
        print(f"error: cannot import {args.file}: {exc}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = f"{out}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"unit": "USD per 1M tokens", "source": os.path.basename(args.file), "prices": rows}, f, indent=1)
    os.replace(tmp, out)
    print(f"imported {len(rows)} model prices into {out} ({skipped} entries skipped); "
          "restart the service to use them")
    return 0


def _lookup(args) -> int:
    from . import load_table
    from .config import Config

    table = load_table(_cost_config(args) or Config())
    price = table.find(args.provider, args.model)
    if price is None:
        print(f"no price for {args.provider}:{args.model} (its cost would be NULL, flagged unknown_model)")
        return 1
    r = price.rates
    print(f"{price.provider}:{price.model} (from {price.effective_from or 'always'}), USD per 1M tokens: "
          f"input {r.input}, cache read {r.cache_read}, cache write {r.cache_write}, output {r.output}")
    if price.long_rates:
        lr = price.long_rates
        print(f"  above {price.threshold} input tokens: input {lr.input}, cache read {lr.cache_read}, "
              f"cache write {lr.cache_write}, output {lr.output}")
    return 0
