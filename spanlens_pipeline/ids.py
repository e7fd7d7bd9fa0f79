"""Canonical ids: lower-case hex without dashes.

OTLP trace ids are 16 bytes (32 hex) and span ids 8 bytes (16 hex); the Spanlens SDKs use
UUIDs, which are 16 bytes too. Storing every id in one form lets spans from every
receiver (OTLP, native ingest, proxy headers) join into one tree.
"""
from __future__ import annotations

from .errors import ValidationFailed

_HEX = frozenset("0123456789abcdef")


def canonical_id(value: object) -> str | None:
    """``value`` as canonical hex (a UUID loses its dashes), or None if it is not an id.

    Accepted: 16 or 32 hex digits, or a UUID in its 8-4-4-4-12 form (any case).
    An all-zero id is "no id".
    """
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    if len(v) == 36 and v[8] == v[13] == v[18] == v[23] == "-":
        v = v.replace("-", "")
    if len(v) not in (16, 32) or not _HEX.issuperset(v) or v.strip("0") == "":
        return None
    return v


def uuid_form(hex_id: str) -> str:
    """A 32-hex id in UUID form (8-4-4-4-12); other ids unchanged."""
    if len(hex_id) != 32:
        return hex_id
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def id_param(value: str, field: str, trace: bool) -> str:
    """A trace id (UUID or 32 hex) or span id (UUID, 32 or 16 hex) given by a client, canonical;
    a 400 ``VALIDATION_FAILED`` naming ``field`` otherwise."""
    cid = canonical_id(value)
    if cid is None or (trace and len(cid) != 32):
        raise ValidationFailed(f"{field} must be a valid UUID", details={"field": field})
    return cid
