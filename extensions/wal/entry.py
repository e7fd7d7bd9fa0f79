"""One log entry: what a receiver accepted, with who sent it and when.

An entry holds either a raw request body in a format a receiver registered a decoder for
(``otlp-pb``: an ``ExportTraceServiceRequest`` the receiver already checked), or the
records a receiver built (kind ``batch``), pickled. Unpickling is limited to the record
classes of ``spanlens_pipeline.model`` and a few plain types, so an entry can only ever
become records, whatever its bytes say.
"""
from __future__ import annotations

import io
import pickle
import struct
from dataclasses import dataclass
from typing import Any

import orjson

from spanlens_pipeline.model import Batch, RequestContext, Tenant

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


def pack_batch(batch: Batch) -> bytes:
    return pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)


class _RecordUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "spanlens_pipeline.model" or (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a record type")


def unpack_batch(body: bytes) -> Batch:
    batch = _RecordUnpickler(io.BytesIO(body)).load()
    if not isinstance(batch, Batch):
        raise pickle.UnpicklingError("a batch entry holds no batch")
    return batch
