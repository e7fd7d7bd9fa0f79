"""One log entry: what a receiver accepted, with who sent it and when.

An entry holds either a raw request body in a format a receiver registered a decoder for
(``otlp-pb``: an ``ExportTraceServiceRequest`` the receiver already checked), or the
records a receiver built (kind ``batch``), pickled as plain rows: each record kind's field
names once, then a tuple of values per record (cheaper both ways than pickling the record
objects). Unpickling is limited to the record classes of ``spanlens_pipeline.model`` and a
few plain types, so an entry can only ever become records, whatever its bytes say. A row
written under other field names (an older version) is read by name; an entry holding a
pickled ``Batch`` (the first format) is read as before.
"""
from __future__ import annotations

import io
import operator
import pickle
import struct
from dataclasses import dataclass, fields
from typing import Any

import orjson

from spanlens_pipeline.model import Batch, RequestContext, RequestRecord, SpanRecord, Tenant, TraceRecord

BATCH = "batch"
_META = struct.Struct("<BI")  # version, metadata length
_VERSION = 1
_ALLOWED = {("decimal", "Decimal"), ("builtins", "set"), ("builtins", "frozenset"), ("copyreg", "_reconstructor"),
            ("builtins", "object")}


@dataclass(slots=True)
class Entry:
    receiver: str
    kind: str  # BATCH or a raw format
    body: bytes
    tenant: Tenant | None
    request_id: str
    received_at: float

    def context(self) -> RequestContext:
        """The request context the records are processed under (its headers are not kept)."""
        return RequestContext(headers={}, request_id=self.request_id, tenant=self.tenant,
                              received_at=self.received_at)


def encode(entry: Entry) -> bytes:
    t = entry.tenant
    meta = orjson.dumps({"r": entry.receiver, "k": entry.kind, "q": entry.request_id, "a": entry.received_at,
                         "t": None if t is None else [t.organization_id, t.project_id, t.project_name,
                                                      t.api_key_id, t.key_prefix, t.scope]})
    return _META.pack(_VERSION, len(meta)) + meta + entry.body


def decode(payload: bytes) -> Entry:
    version, length = _META.unpack_from(payload)
    if version != _VERSION:
        raise ValueError(f"log entry version {version} is not known")
    meta = orjson.loads(payload[_META.size:_META.size + length])
    tenant = Tenant(*meta["t"]) if meta["t"] is not None else None
    return Entry(meta["r"], meta["k"], payload[_META.size + length:], tenant, meta["q"], meta["a"])


_ROWS = "rows/1"  # marks the row format
_KINDS: tuple[type, ...] = (SpanRecord, TraceRecord, RequestRecord)  # in the order of the batch's lists
_NAMES = tuple(tuple(f.name for f in fields(kind)) for kind in _KINDS)
_GETTERS = tuple(operator.attrgetter(*names) for names in _NAMES)


def pack_batch(batch: Batch) -> bytes:
    lists: tuple[list[Any], ...] = (batch.spans, batch.traces, batch.requests)
    rows = tuple((_NAMES[i], [_GETTERS[i](r) for r in records]) if records else None
                 for i, records in enumerate(lists))
    return pickle.dumps((_ROWS, rows, batch.resolved_ends, batch.rejected, batch.rejected_reason),
                        protocol=pickle.HIGHEST_PROTOCOL)


def _records(kind: type, names: tuple[str, ...], current: tuple[str, ...], rows: list[tuple]) -> list[Any]:
    if names == current:
        return [kind(*row) for row in rows]
    known = [(i, name) for i, name in enumerate(names) if name in current]  # a field since removed is dropped
    return [kind(**{name: row[i] for i, name in known}) for row in rows]


class _RecordUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "spanlens_pipeline.model" or (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a record type")


def unpack_batch(body: bytes) -> Batch:
    found = _RecordUnpickler(io.BytesIO(body)).load()
    if isinstance(found, Batch):
        return found
    try:
        marker, rows, resolved, rejected, reason = found
        if marker != _ROWS:
            raise ValueError(marker)
        lists = [_records(kind, tuple(part[0]), names, part[1]) if part is not None else []
                 for kind, names, part in zip(_KINDS, _NAMES, rows, strict=True)]
        return Batch(spans=lists[0], traces=lists[1], requests=lists[2], resolved_ends=list(resolved),
                     rejected=rejected, rejected_reason=reason)
    except (TypeError, ValueError, IndexError) as exc:
        raise pickle.UnpicklingError(f"a batch entry holds no batch ({type(exc).__name__})") from None
