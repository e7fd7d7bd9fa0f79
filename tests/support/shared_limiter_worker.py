"""One process with its own limiter on shared Redis buckets: waits for ``go``, fires N calls at
once, prints how many were admitted. Usage: python -m tests.support.shared_limiter_worker URL GO_FILE N"""
from __future__ import annotations

import asyncio
import os
import sys
import time

from spanlens_pipeline.confschema import decode
from spanlens_pipeline.errors import RateLimited
from spanlens_pipeline.extensions.ratelimit import Config, Limiter
from spanlens_pipeline.extensions.ratelimit.shared import SharedBuckets
from spanlens_pipeline.model import Tenant


async def main(url: str, go: str, n: int, project: str) -> int:
    cfg = decode(Config, {"default_plan": "enterprise", "redis": url,
                          "limits": [{"scope": "project", "requests": 20, "window": "10s"}]}, "ratelimit")
    lim = Limiter(cfg)
    lim.shared = SharedBuckets(url)
    await lim.shared.ping()
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    tenant = Tenant("org-shared", project, project, f"key-{os.getpid()}", "sl_live_x", "full")

    async def one() -> bool:
        try:
            await lim.acheck(tenant)
            return True
        except RateLimited:
            return False

    admitted = sum(await asyncio.gather(*(one() for _ in range(n))))
    await lim.shared.close()
    return admitted


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])), flush=True)
