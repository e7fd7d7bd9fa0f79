"""Background tasks of components."""
from __future__ import annotations

import asyncio
import contextlib


async def cancel(task: asyncio.Task | None) -> None:
    """Stop a component's periodic task at shutdown and wait for it; whatever it ended with
    (cancelled or a last error) no longer matters then."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
