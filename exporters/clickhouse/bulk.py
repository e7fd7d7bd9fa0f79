"""The bulk insert of OTLP protobuf entries: the store parses the requests and computes every
span column in one ``INSERT … SELECT``; no Python object per span.

``insert_otlp(store, database, entries, steps)`` frames the entries' bodies (each body is
an ``ExportTraceServiceRequest``, wrapped in an ``Entry`` message with its tenant and
number), writes them to one temporary file and inserts them with ClickHouse's
``Protobuf`` format (schema ``sql/otlp_bulk.proto``). The SELECT is the decode stage
(``bulk_decode``, the OTLP receiver's rules) followed by each processor's ``SqlStep`` in
pipeline order, so the stored rows equal those of the record path (decode → processors
→ ``encode_spans``) for the same body and tenant; ``tests/exporters/test_bulk_golden.py``
checks that.

A span the bulk schema cannot render exactly (see ``_record`` in ``bulk_decode`` and the
steps) makes its whole entry take the record path: those entries go to ``record`` (a
callable the loader gives, storing entries the way receivers do today).

Embedded store only: a ClickHouse server cannot read the local schema file. Ask
``supported(store)`` first; ``insert_otlp`` raises ``BulkUnsupported`` otherwise.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spanlens_pipeline.bulksql import SqlStep, lit
from spanlens_pipeline.extensions.storage import Store, is_embedded
from spanlens_pipeline.limits import DEFAULT, Limits
from spanlens_pipeline.model import SPAN_COLUMNS

from .bulk_decode import STRUCTURE, decode_sql, survey_sql

SCHEMA_FILE = Path(__file__).with_name("sql") / "otlp_bulk.proto"
# Settings every bulk insert runs with (besides the caller's).
SETTINGS = {
    "input_format_protobuf_oneof_presence": 1,
    "output_format_json_escape_forward_slashes": 0,
    "max_query_size": 4_000_000,
    "optimize_on_insert": 0,
}
# Columns that are not Nullable in ``spans``: a NULL there is written as ''.
_NOT_NULL = ("project_id", "organization_id", "trace_id", "span_id")


class BulkUnsupported(RuntimeError):
    """The store cannot run the bulk insert (not embedded); take the record path."""


@dataclass(frozen=True, slots=True)
class OtlpEntry:
    organization_id: str
    project_id: str
    received_ns: int
    body: bytes  # an ExportTraceServiceRequest that upb parsed


def supported(store: Store) -> bool:
    """Whether ``store`` can run ``insert_otlp`` (the embedded store reads the schema file)."""
    return is_embedded(store.dsn)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _text_field(number: int, value: str) -> bytes:
    data = value.encode()
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def frame(entries: Sequence[OtlpEntry]) -> bytes:
    """The entries as length-delimited ``Entry`` messages: the body as field 1, then the tenant,
    receive time and entry number (a body's own fields never meet ours)."""
    parts = []
    for no, e in enumerate(entries):
        head = _varint(1 << 3 | 2) + _varint(len(e.body))
        tail = (_text_field(2, e.organization_id) + _text_field(3, e.project_id)
                + _varint(4 << 3) + _varint(e.received_ns) + _varint(5 << 3) + _varint(no))
        parts.append(_varint(len(head) + len(e.body) + len(tail)))
        parts.append(head)
        parts.append(e.body)
        parts.append(tail)
    return b"".join(parts)


def span_select(source: str, steps: Sequence[SqlStep], limits: Limits = DEFAULT) -> str:
    """The SELECT of finished span rows (span columns and helpers) from ``source``."""
    sql = decode_sql(source, limits)
    names = {*SPAN_COLUMNS, "_org", "_project", "_received", "_entry", "_kind", "_ev", "_ev_sets", "_keys"}
    for step in steps:
        for layer in step.layers:
            replace = [f"{expr} AS {name}" for name, expr in layer.items() if name in names]
            add = [f"{expr} AS {name}" for name, expr in layer.items() if name not in names]
            head = "SELECT *" + (f" REPLACE ({', '.join(replace)})" if replace else "")
            sql = f"{head}{''.join(', ' + a for a in add)} FROM ({sql})"
            names.update(layer)
    return sql


def _source(path: str) -> str:
    return f"file({lit(path)}, 'Protobuf', {lit(STRUCTURE)})"


def insert_statement(database: str, path: str, steps: Sequence[SqlStep], limits: Limits = DEFAULT,
                     skip_entries: Sequence[int] = ()) -> str:
    """``INSERT INTO spans … SELECT`` of the entries framed in ``path``."""
    cols = ", ".join(SPAN_COLUMNS)
    values = ", ".join(f"ifNull({c}, '') AS {c}" if c in _NOT_NULL else c for c in SPAN_COLUMNS)
    where = f"_entry NOT IN ({', '.join(str(int(n)) for n in skip_entries)})" if skip_entries else "1"
    select = span_select(_source(path), steps, limits).replace("{db}", database)
    return (f"INSERT INTO {database}.spans ({cols}) SELECT {values} FROM ({select}) "
            f"WHERE {where} SETTINGS format_schema = {lit(str(SCHEMA_FILE) + ':Entry')}")


def survey_statement(path: str, steps: Sequence[SqlStep], limits: Limits = DEFAULT) -> str:
    """Per entry in ``path``: its valid spans, and whether one of them needs the record path."""
    record = [s.record for s in steps if s.record]
    return f"{survey_sql(_source(path), limits, record)} SETTINGS format_schema = {lit(str(SCHEMA_FILE) + ':Entry')}"


def insert_otlp(store: Store, database: str, entries: list[OtlpEntry], steps: Sequence[SqlStep] = (),
                limits: Limits = DEFAULT, record: Callable[[list[OtlpEntry]], int] | None = None,
                settings: dict[str, Any] | None = None) -> int:
    """Store the spans of ``entries`` (one insert); returns the number of span rows stored.

    ``steps`` are the pipeline's processors' ``bulk_sql()`` in order; ``record`` stores the
    entries that need the record path (without it, such entries raise ``BulkUnsupported``).
    Synchronous: run it in a worker thread.
    """
    stored, slow = insert_what_sql_can(store, database, entries, steps, limits, settings)
    if slow and record is None:
        raise BulkUnsupported(f"{len(slow)} entries need the record path and no record path was given")
    if slow and record is not None:
        stored += record([entries[i] for i in slow])
    return stored


def insert_what_sql_can(store: Store, database: str, entries: Sequence[OtlpEntry], steps: Sequence[SqlStep] = (),
                        limits: Limits = DEFAULT, settings: dict[str, Any] | None = None) -> tuple[int, list[int]]:
    """Store, in one insert, the spans of every entry SQL renders exactly; returns the span rows
    stored and the positions of the entries left for the record path. Synchronous."""
    if not supported(store):
        raise BulkUnsupported(f"the bulk OTLP insert needs the embedded store, not {store.dsn}")
    if not entries:
        return 0, []
    for step in steps:
        if step.prepare is not None:
            step.prepare(store, database)
    opts = {**SETTINGS, **(settings or {})}
    fd, path = tempfile.mkstemp(prefix="spanlens-bulk-", suffix=".pb")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(frame(entries))
        survey = store.query(survey_statement(path, steps, limits), settings=opts)
        slow = sorted(int(r["entry"]) for r in survey if r["record"])
        stored = sum(int(r["spans"]) for r in survey if not r["record"])
        if stored:
            store.command(insert_statement(database, path, steps, limits, slow), settings=opts)
    finally:
        os.unlink(path)
    return stored, slow
