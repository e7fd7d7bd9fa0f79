"""``run``: start the service and serve until SIGTERM/SIGINT."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from spanlens_pipeline.service import Service

from .common import add_config_option, load_config


def register(sub) -> None:
    p = sub.add_parser("run", help="run the pipeline service")
    add_config_option(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    service = Service(load_config(args))
    runner: Callable[..., Any]
    try:
        import uvloop  # noqa: F401
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(service.run())
    return 0
