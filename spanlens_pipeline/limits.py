"""Input limits, defined once for every receiver and applied before anything is copied.

A receiver decodes within ``Limits``: attribute maps beyond their count are cut, long
string values are cut, deep values are flattened, extra events and links are dropped. The
record keeps a flag naming each cut. A resource's attributes are bounded on their own
(smaller: they are copied into every span row of the resource). A JSON body nested deeper
than ``max_depth`` is refused (400) right after parsing, before it is walked.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import MalformedPayload

FLAG_ATTRIBUTES_DROPPED = "attributes_dropped"
FLAG_VALUE_TRUNCATED = "attribute_value_truncated"
FLAG_EVENTS_DROPPED = "events_dropped"
FLAG_LINKS_DROPPED = "links_dropped"
FLAG_RESOURCE_ATTRIBUTES_DROPPED = "resource_attributes_dropped"
FLAG_RESOURCE_VALUE_TRUNCATED = "resource_attribute_value_truncated"
FLAG_SCOPE_TRUNCATED = "scope_truncated"
FLAG_VALUE_TOO_DEEP = "attribute_value_too_deep"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one request's content (defaults are the documented ones)."""

    max_attributes: int = 1024  # per span, per event, per link
    max_value_length: int = 256 * 1024  # characters of one attribute value (arrays: all strings together)
    max_events: int = 256  # per span
    max_links: int = 128  # per span
    max_resource_attributes: int = 128  # per resource (copied into every span row)
    max_resource_value_length: int = 4096
    max_scope_length: int = 1024  # scope name and version
    max_value_depth: int = 16  # nesting of an attribute value (arrays and maps)
    max_depth: int = 128  # nesting of a JSON body


DEFAULT = Limits()


def cut_value(value: Any, limit: int) -> tuple[Any, bool]:
    """A string longer than ``limit`` characters is cut; a list's strings share ``limit``."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit], True
    if isinstance(value, list):
        total = sum(len(v) for v in value if isinstance(v, str))
        if total > limit:
            return [v[: max(0, limit // max(1, len(value)))] if isinstance(v, str) else v for v in value], True
    return value, False


def depth_of(value: Any, stop: int) -> int:
    """The nesting depth of a decoded JSON value (a scalar is 0), counting no further than ``stop``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > deepest:
            deepest = level
            if deepest > stop:
                return deepest
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def flatten_deep(value: Any, max_depth: int) -> tuple[Any, bool]:
    """``value`` unchanged when within ``max_depth``; else the levels below it as JSON text."""
    if not isinstance(value, (dict, list)) or depth_of(value, max_depth) <= max_depth:
        return value, False
    return _flatten(value, max_depth), True


def _flatten(value: Any, room: int) -> Any:
    if not isinstance(value, (dict, list)):
        return value
    if room <= 1:
        try:
            return orjson.dumps(value).decode()[:4096]
        except (orjson.JSONEncodeError, TypeError):
            return None
    if isinstance(value, dict):
        return {k: _flatten(v, room - 1) for k, v in value.items()}
    return [_flatten(v, room - 1) for v in value]


def check_depth(doc: Any, max_depth: int) -> None:
    """Refuse (400) a parsed JSON body nested deeper than ``max_depth``."""
    if depth_of(doc, max_depth) > max_depth:
        raise MalformedPayload(f"Request body is nested deeper than {max_depth} levels",
                               details={"maxDepth": max_depth})
