"""Rate buckets shared by every replica through Redis: the same GCRA as ``limiter``, run as one
Lua script so that checking every applicable bucket and counting the call is atomic across
processes.

The script works in microseconds of the Redis server's clock (one clock for all replicas; a
microsecond count since the epoch is exact in a Lua number). A bucket is a hash ``t`` (TAT),
``r``/``w`` (the limit it was kept under, for rescaling) that expires when its TAT passes, so an
idle bucket vanishes exactly as ``Limiter.sweep`` drops it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from spanlens_pipeline.errors import Unavailable

US = 1_000_000

# KEYS: customer buckets in check order, then (optional) the platform-ceiling bucket.
# ARGV: n_customer, then requests, window for each key.
# Reply: {now_us, denied_index (0: admitted), tat_1..tat_n (after this call, or the denying
# bucket's TAT after it), wait_us of the denial, ceiling_over (0/1), ceiling_tat}.
GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local function fmt(x) return string.format('%.0f', x) end
local function step(i)
  local req, win = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local interval = math.floor(win * 1000000 / req)
  local b = redis.call('HMGET', KEYS[i], 't', 'r', 'w')
  local tat = tonumber(b[1]) or 0
  local oreq, owin = tonumber(b[2]) or req, tonumber(b[3]) or win
  if tat > now and (oreq ~= req or owin ~= win) then
    local oint = math.floor(owin * 1000000 / oreq)
    tat = now + math.floor((tat - now) * interval / oint)
  end
  local new_tat = math.max(tat, now) + interval
  local wait = math.max(0, new_tat - now - win * 1000000)
  return new_tat, wait, req, win
end
local tats = {}
for i = 1, n do
  local new_tat, wait, req, win = step(i)
  if wait > 0 then
    local out = {fmt(now), i}
    for j = 1, n do out[#out + 1] = '0' end
    out[2 + i] = fmt(new_tat)
    out[#out + 1] = fmt(wait)
    out[#out + 1] = 0
    out[#out + 1] = '0'
    return out
  end
  tats[i] = {new_tat, req, win}
end
local out = {fmt(now), 0}
for i = 1, n do
  local tat = tats[i][1]
  redis.call('HSET', KEYS[i], 't', fmt(tat), 'r', tats[i][2], 'w', tats[i][3])
  redis.call('PEXPIREAT', KEYS[i], math.floor(tat / 1000) + 1)
  out[#out + 1] = fmt(tat)
end
out[#out + 1] = '0'
local over, ctat = 0, 0
if #KEYS > n then
  local new_tat, wait = step(n + 1)
  if wait > 0 then
    over = 1
    ctat = tonumber(redis.call('HGET', KEYS[n + 1], 't')) or 0
  else
    ctat = new_tat
    redis.call('HSET', KEYS[n + 1], 't', fmt(new_tat), 'r', ARGV[2 * n + 2], 'w', ARGV[2 * n + 3])
    redis.call('PEXPIREAT', KEYS[n + 1], math.floor(new_tat / 1000) + 1)
  end
end
out[#out + 1] = over
out[#out + 1] = fmt(ctat)
return out
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One script run, in nanoseconds on the Redis clock (the unit ``limiter`` computes in)."""

    now: int
    denied: int  # 1-based index of the denying bucket; 0: admitted and counted
    tats: list[int]
    wait: int
    ceiling_over: bool
    ceiling_tat: int

    @property
    def wall(self) -> float:
        return self.now / 1e9


class SharedBuckets:
    """The GCRA buckets in Redis (``redis.asyncio``); keys are prefixed ``spanlens:rl:``."""

    def __init__(self, url: str, prefix: str = "spanlens:rl:") -> None:
        import redis.asyncio as aioredis

        self.url, self.prefix = url, prefix
        self.client: Any = aioredis.from_url(url, decode_responses=True)
        self._script = self.client.register_script(GCRA_LUA)

    def key(self, parts: tuple[str, ...]) -> str:
        return self.prefix + ":".join(p.replace(":", "%3A") for p in parts)

    async def run(self, buckets: list[tuple[tuple[str, ...], int, int]],
                  ceiling: tuple[str, int, int] | None) -> Outcome:
        """Check and count ``(key, requests, window_s)`` buckets, then the ceiling (never denies)."""
        keys = [self.key(k) for k, _, _ in buckets]
        args: list[int] = [len(buckets)]
        for _, req, win in buckets:
            args += [req, win]
        if ceiling:
            keys.append(self.key(("c", ceiling[0])))
            args += [ceiling[1], ceiling[2]]
        try:
            reply = await self._script(keys=keys, args=args)
        except RedisError as exc:  # fail closed: no call passes unchecked
            raise Unavailable("Rate limits cannot be checked right now (Redis unreachable); retry shortly.",
                              details={"source": "ratelimit"}, headers={"Retry-After": "1"}) from exc
        n = len(buckets)
        ns = [int(v) * 1000 for v in (reply[0], *reply[2:2 + n], reply[2 + n])]
        return Outcome(now=ns[0], denied=int(reply[1]), tats=ns[1:1 + n], wait=ns[1 + n],
                       ceiling_over=bool(int(reply[3 + n])), ceiling_tat=int(reply[4 + n]) * 1000)

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
