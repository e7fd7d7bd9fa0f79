"""Readiness checks: components register a callback; ``/health`` answers 503 while any reports a problem.

A check returns ``None`` when all is well, else a short reason ("the store's disk is full").
The registry is per process; a component unregisters its check when it shuts down.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

Check = Callable[[], "str | None"]

log = logging.getLogger("spanlens_pipeline.health")
_checks: dict[object, Check] = {}


def register(key: object, check: Check) -> None:
    _checks[key] = check


def unregister(key: object) -> None:
    _checks.pop(key, None)


def problems() -> list[str]:
    """The reasons the process is not ready (empty when it is)."""
    out = []
    for check in list(_checks.values()):
        try:
            reason = check()
        except Exception as exc:  # a broken check must not break /health
            log.warning("a readiness check failed: %s", exc)
            reason = "a readiness check failed"
        if reason:
            out.append(reason)
    return out
