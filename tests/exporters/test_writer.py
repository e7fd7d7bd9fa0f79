"""The group-commit writer against the real embedded store."""
from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from spanlens_pipeline.errors import InternalError, StoreUnavailable
from spanlens_pipeline.exporters.clickhouse.config import RetryConfig
from spanlens_pipeline.exporters.clickhouse.writer import GroupWriter, Part


@pytest.fixture
def table(store):
    name = f"default.w_{uuid.uuid4().hex[:8]}"
    store.command(f"CREATE TABLE {name} (k String, n UInt32) ENGINE = MergeTree ORDER BY k")
    return name


def _part(table: str, rows: list[tuple]) -> Part:
    body = b"\n".join(orjson.dumps(list(r)) for r in rows)
    return Part(table, ("k", "n"), "JSONCompactEachRow", body, len(rows))


async def _with_writer(store, fn, **kw):
    writer = GroupWriter(store, RetryConfig(), max_batch_rows=kw.get("max_batch_rows", 10_000),
                         max_queued_rows=kw.get("max_queued_rows", 100_000))
    writer.start()
    try:
        return await fn(writer)
    finally:
        await writer.close()


def test_concurrent_writes_share_inserts_and_all_land(store, table):
    async def go(writer):
        await asyncio.gather(*(writer.write([_part(table, [(f"k{i}", i)])]) for i in range(200)))
        return writer.inserts

    inserts = asyncio.run(_with_writer(store, go))
    assert inserts < 200  # requests that arrived together shared an insert
    assert store.query(f"SELECT count() AS c, sum(n) AS s FROM {table}")[0] == {"c": 200, "s": sum(range(200))}


def test_a_bad_request_fails_alone(store, table):
    async def go(writer):
        good = [writer.write([_part(table, [(f"g{i}", i)])]) for i in range(5)]
        bad = writer.write([_part(table, [("bad", "not a number")])])
        return await asyncio.gather(*good, bad, return_exceptions=True)

    results = asyncio.run(_with_writer(store, go))
    assert results[:5] == [None] * 5
    assert isinstance(results[5], InternalError)
    assert store.query(f"SELECT count() AS c FROM {table}")[0]["c"] == 5


def test_back_pressure_refuses_with_a_retryable_503(store, table):
    async def go(writer):
        first = asyncio.ensure_future(writer.write([_part(table, [("a", 1), ("b", 2)])]))
        await asyncio.sleep(0)  # queued, not yet written
        with pytest.raises(StoreUnavailable) as info:
            await writer.write([_part(table, [("c", 3), ("d", 4)])])
        assert info.value.status == 503 and info.value.headers["Retry-After"] == "1"
        await first

    asyncio.run(_with_writer(store, go, max_batch_rows=2, max_queued_rows=3))
    assert store.query(f"SELECT count() AS c FROM {table}")[0]["c"] == 2
