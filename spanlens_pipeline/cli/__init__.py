"""The ``spanlens-pipeline`` command line. Each sub-command lives in its own module of this
package that defines ``register(subparsers)``; modules are found automatically."""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from spanlens_pipeline.cli.common import CommandError
from spanlens_pipeline.errors import ConfigError, SpanlensError
from spanlens_pipeline.extensions.keystore import KeyStoreError
from spanlens_pipeline.store import StoreError

# Shown first in --help, in this order; other command modules follow alphabetically.
_FIRST = ("run", "validate", "migrate", "keys", "sql")


def _command_modules() -> list[str]:
    found = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "common")
    return [m for m in _FIRST if m in found] + [m for m in found if m not in _FIRST]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spanlens-pipeline",
                                     description="Self-hosted ingest pipeline for LLM observability.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _command_modules():
        module = importlib.import_module(f"spanlens_pipeline.cli.{name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    # Client libraries log every request at INFO; on the proxy's hot path that is a write per call.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except SpanlensError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except (CommandError, KeyStoreError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
