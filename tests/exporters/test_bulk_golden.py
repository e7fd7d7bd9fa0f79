"""The bulk OTLP insert stores the same ``spans`` rows as the record path.

Every request of the golden corpus (``bulk_corpus``) is stored twice on the real embedded
store: through the record path (the OTLP receiver's decoder, the default pipeline's
processors, the exporter's encoding) into one database, and through ``insert_otlp`` with
the same processors' SQL steps into another; the two tables must agree row for row.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest

from spanlens_pipeline.component import Processor, Settings
from spanlens_pipeline.exporters.clickhouse.bulk import (
    BulkUnsupported,
    OtlpEntry,
    frame,
    insert_otlp,
    supported,
)
from spanlens_pipeline.exporters.clickhouse.exporter import encode_spans
from spanlens_pipeline.extensions.storage import Store, schema
from spanlens_pipeline.limits import DEFAULT
from spanlens_pipeline.model import SPAN_COLUMNS, RequestContext, Tenant
from spanlens_pipeline.processors.auth import AuthProcessor
from spanlens_pipeline.processors.auth import Config as AuthConfig
from spanlens_pipeline.processors.cost import Config as CostConfig
from spanlens_pipeline.processors.cost import CostProcessor
from spanlens_pipeline.processors.cost.config import PriceOverride
from spanlens_pipeline.processors.genai import Config as GenaiConfig
from spanlens_pipeline.processors.genai import GenaiProcessor
from spanlens_pipeline.processors.parent_link import Config as ParentConfig
from spanlens_pipeline.processors.parent_link import ParentLinkProcessor
from spanlens_pipeline.processors.truncation import Config as TruncationConfig
from spanlens_pipeline.processors.truncation import TruncationProcessor
from spanlens_pipeline.receivers.otlp.decode_pb import decode

from ..support.host import storage_host
from .bulk_corpus import requests

COMPARED = [c for c in SPAN_COLUMNS]
# Cases whose request takes the record path (values nested below the bulk schema, message
# forms the genai SQL step leaves to Python).
ROUTED = ("deep values", "deep map", "events", "message events", "indexed prompt", "system instructions")
PIPELINE = ("auth", "genai", "parent_link", "cost", "truncation")


def _settings(name: str) -> Settings:
    return Settings(name, logging.getLogger(f"tests.bulk.{name}"))


async def _pipeline(chdb_path: str) -> list[Processor]:
    """The default pipeline's span processors, in the order of config/default.yaml, started."""
    host = await storage_host(chdb_path)
    cost = CostConfig(overrides=[PriceOverride(provider="openai", model="gpt-4o", input=2.5, output=10,
                                               effective_from="2023-12-01"),
                                 PriceOverride(provider="openai", model="gpt-4o", input=5, output=15)],
                      service_tiers={"flex": 0.4})
    procs: list[Processor] = [
        AuthProcessor(_settings("auth"), AuthConfig()),
        GenaiProcessor(_settings("genai"), GenaiConfig()),
        ParentLinkProcessor(_settings("parent_link"), ParentConfig()),
        CostProcessor(_settings("cost"), cost),
        TruncationProcessor(_settings("truncation"), TruncationConfig(max_body_size=64 * 1024, preview_chars=100)),
    ]
    procs = [p for p in procs if p.id in PIPELINE]
    for p in procs:
        if p.id != "auth":
            await p.start(host)
    return procs


def record_path(store: Store, database: str, procs: list[Processor], entries: list[OtlpEntry]) -> int:
    """What the service does today for each entry: decode, the processors, encode, insert."""
    async def run() -> int:
        stored = 0
        for e in entries:
            batch = decode(e.body, DEFAULT)
            tenant = Tenant(e.organization_id, e.project_id, "p", "key", "sl_live_x", "full")
            ctx = RequestContext(headers={}, tenant=tenant)
            for p in procs:
                batch = await p.process(batch, ctx)
            if batch.spans:
                store.insert_json(f"{database}.spans", SPAN_COLUMNS, encode_spans(batch.spans))
            stored += len(batch.spans)
        return stored
    return asyncio.run(run())


def _rows(store: Store, database: str, project: str) -> list[dict[str, Any]]:
    cols = ", ".join(COMPARED)
    return store.query(f"SELECT {cols} FROM {database}.spans FINAL WHERE project_id = %(p)s "
                       "ORDER BY trace_id, span_id", {"p": project})


@pytest.fixture(scope="module")
def golden(chdb_path, store):
    """Every case stored through both paths: the record path case by case, the bulk path in
    one insert of all cases (each case its own project)."""
    rec_db, bulk_db = "golden_record", "golden_bulk"
    for db in (rec_db, bulk_db):
        schema.migrate(store, db)
    procs = asyncio.run(_pipeline(chdb_path))
    steps = [p.bulk_sql() for p in procs]
    assert all(s is not None for s in steps)
    cases = requests()
    run = uuid.uuid4().hex[:8]
    entries = [OtlpEntry(f"org-{i}", f"golden-{run}-{i}", 1_700_000_000_000_000_000, body)
               for i, (_, body) in enumerate(cases)]
    expected = {e.project_id: record_path(store, rec_db, procs, [e]) for e in entries}
    routed: list[OtlpEntry] = []

    def fallback(es: list[OtlpEntry]) -> int:
        routed.extend(es)
        return record_path(store, bulk_db, procs, es)

    stored = insert_otlp(store, bulk_db, entries, [s for s in steps if s], record=fallback)
    projects = {name: e.project_id for (name, _), e in zip(cases, entries, strict=True)}
    return store, rec_db, bulk_db, projects, expected, stored, {e.project_id for e in routed}


@pytest.mark.parametrize("case", [name for name, _ in requests()])
def test_both_paths_store_identical_rows(golden, case):
    store, rec_db, bulk_db, projects, expected, _, _ = golden
    project = projects[case]
    want, have = _rows(store, rec_db, project), _rows(store, bulk_db, project)
    assert len(want) == expected[project]
    assert len(have) == len(want)
    for w, h in zip(want, have, strict=True):
        diff = {k: (w[k], h[k]) for k in w if w[k] != h[k]}
        assert not diff, f"{case}: {diff}"


def test_one_insert_counts_every_stored_span(golden):
    _, _, _, projects, expected, stored, routed = golden
    assert stored == sum(expected.values()) > 0
    # only the cases the SQL does not render took the record path
    routed_cases = sorted(name for name, p in projects.items() if p in routed)
    assert routed_cases == sorted(ROUTED)


def test_a_server_store_takes_the_record_path(golden):
    class ServerStore:
        dsn = "http://localhost:8123"

    assert not supported(ServerStore())  # type: ignore[arg-type]
    with pytest.raises(BulkUnsupported):
        insert_otlp(ServerStore(), "spanlens", [OtlpEntry("o", "p", 1, b"")])  # type: ignore[arg-type]


def test_entries_are_framed_as_length_delimited_messages():
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    body = requests()[0][1]
    data = frame([OtlpEntry("o", "p", 5, body), OtlpEntry("o2", "p2", 6, body)])
    n, shift, i = 0, 0, 0
    while True:
        b = data[i]
        n |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if b < 0x80:
            break
    entry = data[i:i + n]
    assert entry[0] == 0x0A and body in entry  # field 1: the body, as it came
    assert ExportTraceServiceRequest.FromString(body).resource_spans
    assert b"p2" in data[i + n:] and b"p2" not in data[:i + n]  # the second entry follows, with its tenant


def test_unknown_fields_in_a_body_cannot_spoil_a_shared_insert(golden):
    """A body upb accepts may carry unknown fields of any number and wire type; the insert of
    the group still stores every entry under its own tenant."""
    from ..support.otlp import pb_request, pb_span
    store, _, bulk_db, _, _, _, _ = golden
    auth = AuthProcessor(_settings("auth"), AuthConfig()).bulk_sql()
    odd = pb_request([pb_span()]) + bytes([0xC0, 0x3E, 0x05]) + bytes([0xCA, 0x3E, 0x04]) + b"evil"  # fields 1000, 1001
    project = f"golden-odd-{uuid.uuid4().hex[:8]}"
    entries = [OtlpEntry("org-odd", project, 1, odd), OtlpEntry("org-odd", project, 1, pb_request([pb_span()]))]
    assert insert_otlp(store, bulk_db, entries, [auth]) == 2
    rows = store.query(f"SELECT organization_id FROM {bulk_db}.spans FINAL WHERE project_id = %(p)s", {"p": project})
    assert [r["organization_id"] for r in rows] == ["org-odd", "org-odd"]


def test_the_corpus_reaches_every_rule(golden):
    """The corpus is not vacuous: its rows carry every flag and cost outcome the rules can give."""
    store, rec_db, bulk_db, projects, _, _, routed = golden
    direct = [p for p in projects.values() if p not in routed]
    rows = store.query(f"SELECT flags, cost_source, cost_usd, input, span_type FROM {bulk_db}.spans FINAL "
                       "WHERE project_id IN %(p)s", {"p": direct})
    flags = {f for r in rows for f in r["flags"]}
    assert {"unknown_model", "invalid_cost", "invalid_usage", "input_truncated", "parent_self_reference",
            "attributes_dropped", "attribute_value_truncated", "events_dropped", "links_dropped",
            "invalid_timestamp", "scope_truncated", "resource_attributes_dropped",
            "resource_attribute_value_truncated"} <= flags
    assert {r["cost_source"] for r in rows} >= {"computed", "reported"}
    assert any(r["cost_usd"] == 0 and r["cost_source"] == "computed" for r in rows)  # an OpenRouter :free model
    assert any(r["input"] and "sk-***" in r["input"] for r in rows)
    assert {r["span_type"] for r in rows} >= {"llm", "tool", "embedding", "retrieval", "custom"}
