"""Typed component settings: decode a YAML mapping into a dataclass, strictly.

A component's config is a dataclass. ``decode(cls, data, path)`` builds it from the parsed
YAML, refusing unknown keys and values of the wrong type with a ``ConfigError`` that names
the exact path (``exporters::clickhouse::endpoint``). Supported field types: str, int,
float, bool, ``Literal[...]``, ``X | None``, ``list[X]``, ``dict[str, X]``, nested
dataclasses, and the two unit types below. A dataclass may define ``validate(path)`` for
checks that span fields.
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, Literal, Union

from .errors import ConfigError

_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2,
               "gb": 1000**3, "gib": 1024**3}
_TIME_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


class ByteSize(int):
    """A size in bytes; YAML may say ``20MiB``, ``512KiB`` or a plain integer."""


class Millis(int):
    """A duration in milliseconds; YAML may say ``200ms``, ``5s``, ``1m`` or a plain integer (ms)."""


def _parse_units(value: Any, units: dict[str, int], what: str, path: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(path, f"expected a {what}, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(path, f"expected a non-negative {what}, got {value}")
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        if m and m.group(2).lower() in units:
            return int(float(m.group(1)) * units[m.group(2).lower()])
    raise ConfigError(path, f"expected a {what} such as {'20MiB' if units is _SIZE_UNITS else '5s'}, got {value!r}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _decode_value(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _decode_value(arg, value, path)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if errors else ConfigError(path, "invalid value")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(path, f"must be one of {', '.join(map(repr, allowed))}; got {value!r}")
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(path, f"expected a list, got {type(value).__name__}")
        return [_decode_value(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping, got {type(value).__name__}")
        return {str(k): _decode_value(item, v, f"{path}::{k}") for k, v in value.items()}
    if tp is ByteSize:
        return ByteSize(_parse_units(value, _SIZE_UNITS, "size", path))
    if tp is Millis:
        return Millis(_parse_units(value, _TIME_UNITS, "duration", path))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return decode(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(path, f"expected a string, got {type(value).__name__}")
        return str(value)
    raise ConfigError(path, f"unsupported setting type {_type_name(tp)}")


def decode(cls: type, data: Any, path: str) -> Any:
    """Build dataclass ``cls`` from ``data`` (a mapping or None), checking keys and types."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, f"expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        raise ConfigError(f"{path}::{unknown[0]}" if path else unknown[0],
                          f"unknown key (valid keys: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}::{name}" if path else name
        if name in data:
            kwargs[name] = _decode_value(hints[name], data[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(sub, "is required")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate(path)
    return obj
