"""The ``spanlens-pipeline`` command line.

The frame's own commands (``run``, ``validate``) live in this package, one module each
with ``register(subparsers)``. Components add theirs through their factory's
``commands`` (found in the registry), so the frame never imports a component.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from spanlens_pipeline.errors import ConfigError, PipelineError, SpanlensError
from spanlens_pipeline.registry import Registry

_FRAME_COMMANDS = ("run", "validate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spanlens-pipeline",
                                     description="Self-hosted ingest pipeline for LLM observability.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    found = {m.name for m in pkgutil.iter_modules(__path__)}
    for name in _FRAME_COMMANDS:
        if name in found:
            importlib.import_module(f"spanlens_pipeline.cli.{name}").register(sub)
    for factory in Registry.default().factories():
        if factory.commands is not None:
            factory.commands(sub)
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
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
