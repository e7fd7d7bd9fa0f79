"""Reading and checking the JSON bodies of the ingest routes.

Each helper reads one field and either returns its value in stored form or raises a
typed 400 (``VALIDATION_FAILED`` naming the field). An empty string counts as absent.
"""
from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import orjson

from spanlens_pipeline.amounts import money, token_count
from spanlens_pipeline.errors import InvalidJsonBody, ValidationFailed
from spanlens_pipeline.ids import id_param, uuid_form
from spanlens_pipeline.limits import DEFAULT, depth_of
from spanlens_pipeline.model import MAX_COST_USD, MAX_COUNT, MAX_TIME_NS, SPAN_TYPES
from spanlens_pipeline.times import EPOCH, iso

STATUSES = ("running", "completed", "error")
__all__ = ["iso", "path_id"]


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": field})


def parse_object(raw: bytes, max_depth: int = DEFAULT.max_depth) -> dict[str, Any]:
    """The body as a JSON object, nested at most ``max_depth`` levels."""
    if not raw.strip():
        raise InvalidJsonBody("Request body is empty; send a JSON object")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJsonBody() from None
    if not isinstance(doc, dict):
        raise ValidationFailed("Request body must be a JSON object")
    if depth_of(doc, max_depth) > max_depth:
        raise ValidationFailed(f"Request body is nested deeper than {max_depth} levels",
                               details={"maxDepth": max_depth})
    return doc


def _value(doc: dict[str, Any], field: str) -> Any:
    value = doc.get(field)
    return None if value == "" else value


path_id = id_param


def name(doc: dict[str, Any]) -> str:
    value = doc.get("name")
    if not isinstance(value, str) or not value.strip():
        raise _fail("name", "name is required")
    if len(value) > DEFAULT.max_value_length:
        raise _fail("name", f"name is longer than {DEFAULT.max_value_length} characters")
    return value.strip()


def optional_id(doc: dict[str, Any], field: str, trace: bool = False) -> tuple[str, str] | None:
    """``(as sent, canonical)`` for an optional id field."""
    value = _value(doc, field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(field, f"{field} must be a valid UUID")
    return value, path_id(value, field, trace)


def request_id(doc: dict[str, Any]) -> str | None:
    """A request-log id, in the lower-case UUID form the proxy logs it under."""
    found = optional_id(doc, "request_id", trace=True)
    return uuid_form(found[1]) if found else None


def time_ns(doc: dict[str, Any], field: str) -> int | None:
    value = _value(doc, field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(field, f"{field} must be a valid ISO date")
    try:
        dt = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        raise _fail(field, f"{field} must be a valid ISO date") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.UTC)
    delta = dt - EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if not 0 <= ns <= MAX_TIME_NS:
        raise _fail(field, f"{field} must be a date between 1970 and 2262")
    return ns


def status(doc: dict[str, Any]) -> str | None:
    value = _value(doc, "status")
    if value is None:
        return None
    if value not in STATUSES:
        raise _fail("status", "Invalid status. Expected one of: running, completed, error.")
    return value


def span_type(doc: dict[str, Any]) -> str:
    """The span type; an unknown value falls back to ``custom`` (as the SDKs expect)."""
    value = doc.get("span_type")
    return value if value in SPAN_TYPES else "custom"


def text(doc: dict[str, Any], field: str) -> str | None:
    value = _value(doc, field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(field, f"{field} must be a string")
    return value


def json_text(doc: dict[str, Any], field: str) -> str | None:
    """Any JSON value as text, when the field is present (an explicit null is kept)."""
    if field not in doc:
        return None
    return orjson.dumps(doc[field]).decode()


def metadata(doc: dict[str, Any], limit: int) -> str | None:
    value = doc.get("metadata")
    if value is None:
        return None
    if not isinstance(value, (dict, list)):
        raise _fail("metadata", "metadata must be an object")
    out = orjson.dumps(value)
    if len(out) > limit:
        raise _fail("metadata", f"metadata is larger than {limit} bytes")
    return out.decode()


def count(doc: dict[str, Any], field: str) -> int | None:
    value = doc.get(field)
    if value is None:
        return None
    n = token_count(value, text=False, limit=MAX_COUNT)
    if n is None:
        raise _fail(field, f"{field} must be a non-negative integer")
    return n


def cost(doc: dict[str, Any], field: str) -> Decimal | None:
    value = doc.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(field, f"{field} must be a number")
    amount = money(value)
    if amount is None or amount >= MAX_COST_USD:
        raise _fail(field, f"{field} must be at least 0 and below {MAX_COST_USD}")
    return amount.quantize(Decimal("1e-12"))
