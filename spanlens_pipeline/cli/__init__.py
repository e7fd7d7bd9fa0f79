"""The ``spanlens-pipeline`` command line. Each sub-command lives in its own module that
defines ``register(subparsers)``; add new modules to ``COMMANDS``."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from spanlens_pipeline.errors import ConfigError, SpanlensError

COMMANDS = ("run", "validate", "migrate", "keys", "sql")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spanlens-pipeline",
                                     description="Self-hosted ingest pipeline for LLM observability.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"spanlens_pipeline.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except SpanlensError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
