"""Whether a store error is retried depends on the driver's class and the server's code, never
on text that may echo user data: rows that say "503" or "Connection pool" and that the store
refuses are answered at once as refused (not retried as if the store were down), and other
tenants' rows in the same group still land."""
from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest

from spanlens_pipeline.errors import InternalError, StoreError
from spanlens_pipeline.exporters.clickhouse.config import RetryConfig
from spanlens_pipeline.exporters.clickhouse.writer import GroupWriter, Part
from spanlens_pipeline.extensions.storage.store import is_transient

TRAPS = ["Connection pool is exhausted (code 503)", "503 Service Unavailable: TIMEOUT_EXCEEDED NETWORK_ERROR"]


@pytest.fixture
def table(store):
    name = f"default.refuse_{uuid.uuid4().hex[:8]}"
    store.command(f"CREATE TABLE {name} (k String, n UInt32) ENGINE = MergeTree ORDER BY k")
    return name


def _part(table: str, rows: list[list]) -> Part:
    return Part(table, ("k", "n"), "JSONCompactEachRow", b"\n".join(orjson.dumps(r) for r in rows), len(rows))


@pytest.mark.parametrize("text", TRAPS)
def test_a_refused_row_that_mentions_outages_is_permanent(store, table, text):
    with pytest.raises(StoreError) as caught:
        store.insert_json(table, ("k", "n"), orjson.dumps([text, text]))
    assert "Service Unavailable" in str(caught.value) or "pool" in str(caught.value)  # the message echoes the row
    assert not caught.value.transient
    assert not is_transient(caught.value.__cause__)


def test_the_writer_answers_refused_at_once_and_other_tenants_land(store, table):
    async def go():
        writer = GroupWriter(store, RetryConfig(max_elapsed_time=60_000), max_batch_rows=10_000)
        writer.start()
        try:
            bad = [writer.write([_part(table, [[f"trap-{i}", t]])]) for i, t in enumerate(TRAPS)]
            good = [writer.write([_part(table, [[f"tenant-{i}", i]])]) for i in range(20)]
            return await asyncio.wait_for(asyncio.gather(*bad, *good, return_exceptions=True), 30)
        finally:
            await writer.close()

    results = asyncio.run(go())
    assert all(isinstance(r, InternalError) for r in results[:len(TRAPS)]), results[:len(TRAPS)]
    assert results[len(TRAPS):] == [None] * 20
    assert store.query(f"SELECT count() AS n FROM {table} WHERE startsWith(k, 'tenant-')")[0]["n"] == 20
